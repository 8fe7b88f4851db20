"""A SQLite store made unwritable and writable again under its own feet, as a full or read-only disk would.

chmod does not stop root, so the store's connection is reopened on a read-only file handle, on the
store's own thread (the only one that may touch its connection).
"""

from __future__ import annotations

import sqlite3

from gateway.store import SqliteStore


async def make_read_only(store: SqliteStore) -> None:
    """From now on every write of `store` fails as on a read-only file; reads go on."""

    def reopen() -> None:
        store._db.close()
        store._db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, isolation_level=None,
                                    check_same_thread=False)

    await store._call("test", reopen)


async def make_writable(store: SqliteStore) -> None:
    """Undo `make_read_only`."""

    def reopen() -> None:
        store._db.close()
        store._db = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)

    await store._call("test", reopen)
