"""Reads beside the write path (gateway/store/readers.py): their own connections, fair per namespace."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from gateway.store import EntityKind, SqliteStore
from gateway.store.sqlite.readers import Readers


async def test_a_namespace_has_one_read_in_flight_while_another_namespace_reads_beside_it(tmp_path: Path):
    path = tmp_path / "whisklet.db"
    sqlite3.connect(path).close()
    readers = Readers(path, 1000, threads=3, per_namespace=1)
    started, release = threading.Event(), threading.Event()
    running: list[str] = []

    def blocking_read(db: sqlite3.Connection, namespace: str) -> str:
        running.append(namespace)
        started.set()
        release.wait(10)
        return namespace

    try:
        heavy = [asyncio.create_task(readers.run("heavy", blocking_read, "heavy")) for _ in range(5)]
        assert await asyncio.to_thread(started.wait, 10)
        light = asyncio.create_task(readers.run("light", lambda db: db.execute("SELECT 1").fetchone()[0]))
        assert await asyncio.wait_for(light, 10) == 1  # not queued behind the heavy namespace's reads
        assert running == ["heavy"]  # one of the five at a time
        release.set()
        assert await asyncio.wait_for(asyncio.gather(*heavy), 10) == ["heavy"] * 5
        assert len(readers._turns) == 0  # no bookkeeping left once a namespace stops reading
    finally:
        release.set()
        await asyncio.to_thread(readers.close)


async def test_a_list_sees_every_write_committed_before_it(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db")
    await store.open()
    try:
        for name in ("a", "b"):
            await store.put_entity(EntityKind.TRIGGER, "guest", name, b"{}", 1, None)
            listed = await store.list_entities(EntityKind.TRIGGER, "guest", limit=10, skip=0)
            assert listed[0].name == name
    finally:
        await store.close()
