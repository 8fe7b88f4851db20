"""What only the SQLite engine has: its file on disk (WAL, the schema version, what is written), its thread edge."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.store import Alarm, EntityKind, SqliteStore, StoreError, hash_key
from gateway.store.sqlite import SCHEMA_VERSION
from gateway.store.sqlite.schema import _SCHEMA_V1

KEY = "Qm9vbGVhbktleUZvclRlc3RpbmdPbmx5MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"  # 64 characters
ACTION = EntityKind.ACTION


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "whisklet.db"


@pytest.fixture
async def store(db_path: Path):
    store = SqliteStore(db_path, flush_interval_s=60)
    await store.open()
    yield store
    await store.close()


async def test_the_key_is_never_written_to_disk_only_its_hash(db_path: Path):
    store = SqliteStore(db_path)
    await store.open()
    await store.create_subject("guest", "uuid-1", KEY)
    await store.close()

    files = list(db_path.parent.iterdir())
    data = b"".join(f.read_bytes() for f in files)
    assert hash_key(KEY).encode() in data
    assert KEY.encode() not in data


async def test_a_read_racing_a_write_does_not_cache_what_it_read(store: SqliteStore, monkeypatch):
    await store.put_entity(ACTION, "guest", "hello", b'{"v":1}', 1000, None)
    read_done, release = asyncio.Event(), asyncio.Event()
    call = store._call

    async def slow_entity_reads(what, fn, *args, **kw):
        result = await call(what, fn, *args, **kw)
        if fn == store._select_entity and not release.is_set():
            read_done.set()
            await release.wait()  # the result comes back only after the write below completed
        return result

    monkeypatch.setattr(store, "_call", slow_entity_reads)
    racing_read = asyncio.create_task(store.get_entity("guest", "hello"))
    await read_done.wait()
    await store.put_entity(ACTION, "guest", "hello", b'{"v":2}', 2000, 1)
    release.set()
    assert (await racing_read).doc == b'{"v":1}'
    assert (await store.get_entity("guest", "hello")).doc == b'{"v":2}'


async def test_a_missing_directory_gives_a_store_error(tmp_path: Path):
    with pytest.raises(StoreError, match="check that its directory exists"):
        await SqliteStore(tmp_path / "missing" / "whisklet.db").open()


async def test_the_database_uses_wal_and_records_its_schema_version(store: SqliteStore, db_path: Path):
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7


async def test_a_version_1_database_gains_the_alarms_table(tmp_path: Path):
    path = tmp_path / "whisklet.db"
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA_V1)
        db.execute("INSERT INTO subjects VALUES ('guest', 'u', 'h', x'7b7d', 1)")
        db.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    await store.open()
    try:
        await store.put_alarm(Alarm("guest/t", "guest", b"{}", True, 100, 1))
        assert (await store.get_alarm("guest/t")).next_fire == 100
        assert (await store.get_subject("guest")).uuid == "u"
    finally:
        await store.close()


async def test_a_version_6_journal_row_is_recovered_by_the_node_that_upgrades_the_file(db_path: Path):
    from gateway.store.sqlite.schema import MIGRATIONS

    with sqlite3.connect(db_path) as db:
        for number, schema in MIGRATIONS:
            if number <= 6:
                db.executescript(schema)
        db.execute("INSERT INTO accepted VALUES ('a', 'guest', 'hello', 1, 1, x'7b7d')")
        db.execute("PRAGMA user_version = 6")
    store = SqliteStore(db_path, node_id="node-1")
    await store.open()
    try:
        assert await store.recover_interrupted() == 1
        assert (await store.get_activation("guest", "a")).doc == b"{}"
    finally:
        await store.close()
