"""Turns per namespace (gateway/store/turns.py), which both engines' reads take."""

import asyncio

from gateway.store.turns import NamespaceTurns


async def test_a_namespace_reads_one_at_a_time_while_another_namespace_reads_beside_it():
    turns = NamespaceTurns(per_namespace=1)
    release = asyncio.Event()
    running: list[str] = []

    async def read(namespace: str) -> str:
        async with turns.turn(namespace):
            running.append(namespace)
            if namespace == "heavy":
                await release.wait()
            return namespace

    heavy = [asyncio.create_task(read("heavy")) for _ in range(5)]
    assert await asyncio.wait_for(read("light"), 5) == "light"  # not queued behind the heavy namespace
    assert running == ["heavy", "light"]  # one heavy read at a time
    release.set()
    assert await asyncio.wait_for(asyncio.gather(*heavy), 5) == ["heavy"] * 5
    assert len(turns) == 0  # no bookkeeping left once a namespace stops reading
