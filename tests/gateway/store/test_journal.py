"""The journal of accepted activations, and noticing writes made by other processes."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.store import ActivationRow, SqliteStore, StoreError

KEY = "k" * 64


def row(aid: str, status: str) -> ActivationRow:
    doc = b'{"activationId":"%s","status":"%s"}' % (aid.encode(), status.encode())
    return ActivationRow(aid, "guest", "hello", 1000, 1000, doc)


@pytest.fixture
async def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60, external_check_s=0.05)
    await store.open()
    yield store
    await store.close()


def journal_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT activation_id FROM accepted")]


async def test_an_accepted_activation_is_committed_before_accept_returns(store):
    await store.accept(row("a" * 32, "interrupted"))
    assert journal_rows(store.path) == ["a" * 32]


async def test_journal_rows_are_not_readable_as_activations(store):
    await store.accept(row("a" * 32, "interrupted"))
    assert await store.get_activation("guest", "a" * 32) is None
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 0


async def test_the_activations_own_record_replaces_its_journal_row(store):
    await store.accept(row("a" * 32, "interrupted"))
    store.put_activation(row("a" * 32, "success"))
    await store.flush()
    assert journal_rows(store.path) == []
    assert b"success" in (await store.get_activation("guest", "a" * 32)).doc


async def test_a_record_put_before_its_journal_row_was_written_drops_that_row(tmp_path):
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60)
    await store.open()
    try:
        accepting = asyncio.create_task(store.accept(row("a" * 32, "interrupted")))
        store.put_activation(row("a" * 32, "success"))
        await accepting
        assert journal_rows(store.path) == []
    finally:
        await store.close()


async def test_a_restarted_store_records_what_an_earlier_process_left_in_the_journal(tmp_path):
    path = tmp_path / "whisklet.db"
    killed = SqliteStore(path, flush_interval_s=60)
    await killed.open()
    await killed.accept(row("a" * 32, "interrupted"))
    await killed.accept(row("b" * 32, "interrupted"))
    killed.put_activation(row("b" * 32, "success"))
    await killed.flush()
    # the process dies here: no close()
    restarted = SqliteStore(path, flush_interval_s=60)
    await restarted.open()
    try:
        assert await restarted.recover_interrupted() == 1
        assert b"interrupted" in (await restarted.get_activation("guest", "a" * 32)).doc
        assert b"success" in (await restarted.get_activation("guest", "b" * 32)).doc
        assert journal_rows(path) == []
        assert await restarted.recover_interrupted() == 0
    finally:
        await restarted.close()
        await killed.close()


async def test_accept_fails_and_forgets_the_row_when_the_database_cannot_be_written(store):
    def reopen_read_only() -> None:
        store._db.close()
        store._db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, isolation_level=None,
                                    check_same_thread=False)

    await store._call("test", reopen_read_only)
    with pytest.raises(StoreError, match="read-only"):
        await store.accept(row("a" * 32, "interrupted"))
    assert journal_rows(store.path) == []
    await store.flush()  # nothing left pending


async def test_limits_changed_by_another_process_are_seen_without_a_restart(store):
    await store.create_subject("guest", "uuid-1", KEY)
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b"{}"
    with sqlite3.connect(store.path) as other_process:
        other_process.execute("UPDATE subjects SET limits = ? WHERE namespace = 'guest'", (b'{"firesPerMinute":1}',))
    for _ in range(100):
        if (await store.get_subject_by_uuid("uuid-1")).limits != b"{}":
            break
        await asyncio.sleep(0.02)
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b'{"firesPerMinute":1}'


def committed_records(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT activation_id FROM activations")]


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_blocking_activations_record_is_committed_without_waiting_for_a_flush(store):
    store.journal(row("a" * 32, "interrupted"))  # a blocking activation: journal row queued, not committed
    store.put_activation(row("a" * 32, "success"))
    await until(lambda: committed_records(store.path) == ["a" * 32])  # the flush interval is 60 s
    assert journal_rows(store.path) == []

