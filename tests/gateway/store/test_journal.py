"""The journal of accepted activations, and noticing writes made by other processes (both engines)."""

import asyncio

import pytest

from gateway.store import ActivationRow, StoreError

KEY = "k" * 64


def row(aid: str, status: str) -> ActivationRow:
    doc = b'{"activationId":"%s","status":"%s"}' % (aid.encode(), status.encode())
    return ActivationRow(aid, "guest", "hello", 1000, 1000, doc)


@pytest.fixture
async def store(engine):
    store = engine.store(flush_interval_s=60, external_check_s=0.05)
    await store.open()
    yield store
    await store.close()


async def test_an_accepted_activation_is_committed_before_accept_returns(store, engine):
    await store.accept(row("a" * 32, "interrupted"))
    assert await engine.journal_ids() == ["a" * 32]


async def test_journal_rows_are_not_readable_as_activations(store):
    await store.accept(row("a" * 32, "interrupted"))
    assert await store.get_activation("guest", "a" * 32) is None
    assert await store.count_activations("guest", name=None, since=None, upto=None) == 0


async def test_the_activations_own_record_replaces_its_journal_row(store, engine):
    await store.accept(row("a" * 32, "interrupted"))
    store.put_activation(row("a" * 32, "success"))
    await store.flush()
    assert await engine.journal_ids() == []
    assert b"success" in (await store.get_activation("guest", "a" * 32)).doc


async def test_a_record_put_before_its_journal_row_was_written_drops_that_row(engine):
    store = engine.store(flush_interval_s=60)
    await store.open()
    try:
        accepting = asyncio.create_task(store.accept(row("a" * 32, "interrupted")))
        store.put_activation(row("a" * 32, "success"))
        await accepting
        assert await engine.journal_ids() == []
    finally:
        await store.close()


async def test_a_restarted_store_records_what_an_earlier_process_left_in_the_journal(engine):
    killed = engine.store(flush_interval_s=60)
    await killed.open()
    await killed.accept(row("a" * 32, "interrupted"))
    await killed.accept(row("b" * 32, "interrupted"))
    killed.put_activation(row("b" * 32, "success"))
    await killed.flush()
    # the process dies here: no close()
    restarted = engine.store(flush_interval_s=60)
    await restarted.open()
    try:
        assert await restarted.recover_interrupted() == 1
        assert b"interrupted" in (await restarted.get_activation("guest", "a" * 32)).doc
        assert b"success" in (await restarted.get_activation("guest", "b" * 32)).doc
        assert await engine.journal_ids() == []
        assert await restarted.recover_interrupted() == 0
    finally:
        await restarted.close()
        await killed.close()


async def test_accept_fails_and_forgets_the_row_when_the_database_cannot_be_written(store, engine):
    await engine.make_read_only(store)
    with pytest.raises(StoreError, match="read-only"):
        await store.accept(row("a" * 32, "interrupted"))
    assert await engine.journal_ids() == []
    await store.flush()  # nothing left pending


async def test_limits_changed_by_another_process_are_seen_without_a_restart(store, engine):
    await store.create_subject("guest", "uuid-1", KEY)
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b"{}"
    other_process = engine.store()  # `whisklet namespace limits`, or another node
    await other_process.open()
    await other_process.set_subject_limits("guest", b'{"firesPerMinute":1}')
    await other_process.close()
    for _ in range(100):
        if (await store.get_subject_by_uuid("uuid-1")).limits != b"{}":
            break
        await asyncio.sleep(0.02)
    assert (await store.get_subject_by_uuid("uuid-1")).limits == b'{"firesPerMinute":1}'


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.01)


async def test_a_blocking_activations_record_is_committed_without_waiting_for_a_flush(store, engine):
    store.journal("a" * 32, row("a" * 32, "interrupted"))  # a blocking activation: journal row queued, not committed
    store.put_activation(row("a" * 32, "success"))
    async def committed() -> bool:
        return await engine.stored_activation_ids() == {"a" * 32}

    await until(committed)  # the flush interval is 60 s
    assert await engine.journal_ids() == []



async def test_a_blocking_activations_journal_row_is_never_built_when_its_record_comes_first(store, engine):
    built: list[str] = []

    def journal_row() -> ActivationRow:
        built.append("a" * 32)
        return row("a" * 32, "interrupted")

    store.journal("a" * 32, journal_row)
    store.put_activation(row("a" * 32, "success"))
    await store.flush()
    assert built == []
    assert await engine.stored_activation_ids() == {"a" * 32}
    assert await engine.journal_ids() == []


async def test_a_journal_row_queued_as_its_builder_is_built_and_committed_by_a_flush_before_its_record(store, engine):
    calls = 0

    def journal_row() -> ActivationRow:
        nonlocal calls
        calls += 1
        return row("b" * 32, "interrupted")

    store.journal("b" * 32, journal_row)
    await store.flush()
    assert calls == 1
    assert await engine.journal_ids() == ["b" * 32]
    store.put_activation(row("b" * 32, "success"))
    await store.flush()
    assert calls == 1
    assert await engine.journal_ids() == []
    assert await engine.stored_activation_ids() == {"b" * 32}
