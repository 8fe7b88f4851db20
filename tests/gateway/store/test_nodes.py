"""Nodes: each owns the journal rows of the activations it accepts, recovers only its own, and heartbeats."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.config import ConfigError
from gateway.service import bootstrap_guest
from gateway.store import ActivationRow
from gateway.store.nodes import heartbeat_interval_s, node_identity


def row(aid: str) -> ActivationRow:
    doc = b'{"activationId":"%s","status":"interrupted"}' % aid.encode()
    return ActivationRow(aid, "guest", "hello", 1000, 1000, doc)


@contextlib.asynccontextmanager
async def opened_nodes(engine, *node_ids: str, clock: FakeClock | None = None) -> AsyncIterator[list]:
    """Stores of `node_ids` on the engine's database, open (heartbeats only at open: the clock decides
    which have lapsed), closed after."""
    stores = [engine.store(node_id=n, heartbeat_s=3600, clock=clock or FakeClock()) for n in node_ids]
    for store in stores:
        await store.open()
    try:
        yield stores
    finally:
        for store in stores:
            await store.close()


async def test_a_restarted_node_records_only_its_own_interrupted_activations(engine):
    first, second = engine.store(node_id="node-a"), engine.store(node_id="node-b")
    await first.open()
    await second.open()
    await first.accept(row("a" * 32))
    await second.accept(row("b" * 32))
    # both processes die here: no close(); node-a restarts, node-b (perhaps still running) does not
    restarted = engine.store(node_id="node-a")
    await restarted.open()
    try:
        assert await restarted.recover_interrupted() == 1
        assert await restarted.get_activation("guest", "a" * 32) is not None
        assert await restarted.get_activation("guest", "b" * 32) is None
        assert await engine.journal_ids() == ["b" * 32]
    finally:
        await restarted.close()
        await first.close()
        await second.close()


async def test_each_node_has_a_heartbeat_row_that_moves_on(engine):
    store = engine.store(node_id="node-a", heartbeat_s=0.02)
    await store.open()
    try:
        first = (await engine.heartbeats())["node-a"]
        async with asyncio.timeout(10):
            while (await engine.heartbeats())["node-a"] == first:
                await asyncio.sleep(0.02)
    finally:
        await store.close()


def test_a_node_id_is_generated_once_and_kept_in_the_data_directory(tmp_path: Path):
    generated = node_identity("", tmp_path)
    assert generated.startswith("node-")
    assert node_identity("", tmp_path) == generated
    assert os.stat(tmp_path / "node-id").st_mode & 0o777 == 0o600
    assert node_identity("web-2", tmp_path) == "web-2"  # configured wins


@pytest.mark.parametrize("bad", ["-x", "a b", "a/b", "x" * 64, "é"])
def test_a_bad_node_id_stops_start_up_with_an_example(tmp_path: Path, bad: str):
    with pytest.raises(ConfigError, match=r"e\.g\. node-1"):
        node_identity(bad, tmp_path)


async def test_a_survivor_records_a_lapsed_nodes_activations_as_interrupted(engine):
    clock = FakeClock()
    async with opened_nodes(engine, "node-dead", "node-alive", clock=clock) as (dead, alive):
        await dead.accept(row("d" * 32))
        await alive.accept(row("a" * 32))
        assert await alive.take_over_lapsed(30_000) == 0  # node-dead beat just now
        clock.advance(31)
        assert await alive.take_over_lapsed(30_000) == 1
        recorded = await alive.get_activation("guest", "d" * 32)
        assert recorded is not None and b"interrupted" in recorded.doc
        assert await engine.journal_ids() == ["a" * 32]  # its own running activation is left alone


async def test_racing_survivors_take_over_each_activation_exactly_once(engine):
    clock = FakeClock()
    async with opened_nodes(engine, "node-dead", "node-0", "node-1", "node-2", clock=clock) as (dead, *survivors):
        ids = [f"{n:032x}" for n in range(50)]
        for aid in ids:
            dead.journal(aid, row(aid))
        await dead.flush()
        clock.advance(60)
        taken = await asyncio.gather(*(s.take_over_lapsed(30_000) for s in survivors))
        assert sum(taken) == len(ids)
        assert await engine.stored_activation_ids() == set(ids)
        assert await engine.journal_ids() == []


async def test_a_node_back_after_its_activations_were_taken_over_records_nothing_twice(engine):
    clock = FakeClock()
    dead = engine.store(node_id="node-a", heartbeat_s=3600, clock=clock)
    await dead.open()
    await dead.accept(row("a" * 32))
    clock.advance(60)
    survivor = engine.store(node_id="node-b", heartbeat_s=3600, clock=clock)
    await survivor.open()
    back = engine.store(node_id="node-a", heartbeat_s=3600, clock=clock)
    try:
        assert await survivor.take_over_lapsed(30_000) == 1
        await back.open()
        assert await back.recover_interrupted() == 0
        assert await survivor.take_over_lapsed(30_000) == 0  # its heartbeat is fresh again
        assert await engine.stored_activation_ids() == {"a" * 32}
    finally:
        await back.close()
        await survivor.close()
        await dead.close()


def test_a_node_lapse_that_is_not_positive_stops_start_up_with_an_example():
    with pytest.raises(ConfigError, match=r"e\.g\. 30"):
        heartbeat_interval_s(0)
    assert heartbeat_interval_s(3) == 1.0


async def test_a_second_node_on_a_shared_store_writes_no_wskprops_and_says_where_the_key_is(
    engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    first, second = engine.store(node_id="node-1"), engine.store(node_id="node-2")
    await first.open()
    await second.open()
    try:
        (tmp_path / "n1").mkdir()
        (tmp_path / "n2").mkdir()
        created = await bootstrap_guest(first, tmp_path / "n1" / "wskprops", "http://127.0.0.1:1", engine.where)
        assert created is not None
        assert f"AUTH={created.auth}" in (tmp_path / "n1" / "wskprops").read_text()
        assert await bootstrap_guest(second, tmp_path / "n2" / "wskprops", "http://127.0.0.1:2", engine.where) is None
        assert not (tmp_path / "n2" / "wskprops").exists()
        assert "copy the wskprops of the node that created it" in caplog.text
        assert "whisklet namespace create" in caplog.text
    finally:
        await first.close()
        await second.close()


async def test_live_nodes_counts_the_nodes_whose_heartbeat_is_within_the_lapse(engine):
    clock = FakeClock()
    async with opened_nodes(engine, "node-old", clock=clock):
        clock.advance(60)
        async with opened_nodes(engine, "node-new", clock=clock) as (new,):
            assert await new.live_nodes(30_000) == 1
            assert await new.live_nodes(90_000) == 2


async def test_a_node_that_stops_is_no_longer_counted_as_live(engine):
    leaving, staying = engine.store(node_id="node-leaving"), engine.store(node_id="node-staying")
    await leaving.open()
    await staying.open()
    try:
        assert await staying.live_nodes(30_000) == 2
        await leaving.close()
        assert await staying.live_nodes(30_000) == 1
    finally:
        await staying.close()
