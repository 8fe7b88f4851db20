"""Nodes: each owns the journal rows of the activations it accepts, recovers only its own, and heartbeats."""

import asyncio
import os
from pathlib import Path

import pytest

from gateway.config import ConfigError
from gateway.store import ActivationRow
from gateway.store.nodes import node_identity


def row(aid: str) -> ActivationRow:
    doc = b'{"activationId":"%s","status":"interrupted"}' % aid.encode()
    return ActivationRow(aid, "guest", "hello", 1000, 1000, doc)


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
