"""Reads beside the write path: read-only SQLite connections on their own threads, fair per namespace.

One namespace listing big activation records must not delay another namespace's invoke. With one
connection on one thread, 20 concurrent lists (1.4 s each) queued every write behind them: another
namespace's blocking invoke, which journals and records its activation, took 43 s instead of 0.03 s.
WAL lets readers run beside the writer, so lists and gets run here, never on the writer's thread; and
each namespace has at most `per_namespace` reads in flight, so one namespace cannot hold every reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.request import pathname2url

from gateway.store.turns import READS_PER_NAMESPACE, NamespaceTurns

T = TypeVar("T")

READERS = 3
"""Reader threads, each with its own read-only connection."""


@dataclass
class Readers:
    """Read-only connections to the database at `path`, one per thread of a bounded executor.

    1. `run(namespace, fn, *args)` calls `fn(db, *args)` on a reader thread with that thread's
       connection, once `namespace` has fewer than `per_namespace` reads running; waiting is in
       arrival order and costs no thread. The bookkeeping of a namespace lasts only while it reads.
    2. A reader sees every write committed before its statement began (WAL snapshots).
    3. `close()` waits for the reads in flight and closes every connection; calling it again is harmless.
    """

    path: Path
    busy_timeout_ms: int
    threads: int = READERS
    per_namespace: int = READS_PER_NAMESPACE
    _executor: ThreadPoolExecutor | None = None
    _local: threading.local = field(default_factory=threading.local)
    _connections: list[sqlite3.Connection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _turns: NamespaceTurns = field(init=False)

    def __post_init__(self) -> None:
        self._turns = NamespaceTurns(self.per_namespace)
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="whisklet-store-read")

    async def run(self, namespace: str, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise sqlite3.ProgrammingError("the store's readers are closed")
        executor = self._executor
        async with self._turns.turn(namespace):
            return await asyncio.get_running_loop().run_in_executor(executor, self._on_thread, fn, args)

    def _on_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            uri = f"file:{pathname2url(str(self.path))}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return fn(db, *args)

    def close(self) -> None:
        """Blocking: wait for the reads in flight, then close the connections."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()
