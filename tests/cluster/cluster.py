"""A cluster of a test's own on loopback: a fresh PostgreSQL database, real nodes, and haproxy in front.

Every node is a `whisklet serve --store postgresql://... --node-id nN` (bench/cluster.py's Cluster of
bench/serving.py's ServedWhisklets) with its own data directory and port and real sandboxes; haproxy runs as
a child process with a configuration generated from config/haproxy.cfg's settings and those ports, and is
killed by its PID.
Without `WHISKLET_TEST_POSTGRES_URL` the cluster tests are skipped with that reason; with it set (as
scripts/test sets it), a missing haproxy or PostgreSQL fails them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from bench.cluster import Cluster, started
from bench.serving import WHISKLET
from tests.gateway.store.postgres import POSTGRES_URL, SKIP_REASON, fresh_database

NODE_LAPSE_S = 3
"""store.node_lapse_s of the test nodes: a killed node's activations are taken over within seconds."""

NODE_ENV = {
    "WHISKLET_STORE_NODE_LAPSE_S": str(NODE_LAPSE_S),
    "WHISKLET_POOL_MIN_PREWARM": "1",
}


@contextlib.contextmanager
def running_cluster(root: Path, node_ids: tuple[str, ...] = ("n1", "n2", "n3")) -> Iterator[Cluster]:
    """A fresh database, `node_ids` started (the first alone, then the rest at once) and haproxy in front."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is missing: scripts/setup installs Debian's haproxy (apt-get install haproxy)")
    with fresh_database("whisklet_cluster") as (dsn, _), started(dsn, root, list(node_ids), NODE_ENV) as cluster:
        yield cluster


def namespace_key(cluster: Cluster, name: str, *flags: str) -> tuple[str, str]:
    """A new namespace in the cluster's database (`whisklet namespace create --store`), its uuid and key."""
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", name, "--store", cluster.dsn, *flags],
        capture_output=True, text=True, check=True,
    )
    uuid, key = created.stdout.strip().split(":")
    return uuid, key


def poll(condition, timeout_s: float, interval_s: float = 0.2):  # type: ignore[no-untyped-def]
    """`condition()`'s first truthy value within `timeout_s`, else its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


async def _heartbeats(dsn: str) -> dict[str, int]:
    db = await asyncpg.connect(dsn)
    try:
        return {r[0]: r[1] for r in await db.fetch("SELECT node_id, heartbeat FROM nodes")}
    finally:
        await db.close()


def every_node_counts_the_others(cluster: Cluster) -> None:
    """Return once every running node has beaten twice since now: each has counted the live nodes since
    (the count is read every beat, with the heartbeat), so each enforces its share of the throttles."""
    running = [n for n, s in cluster.nodes.items() if s.process is not None and s.process.poll() is None]
    first = asyncio.run(_heartbeats(cluster.dsn))

    def beaten_twice() -> bool:
        now = asyncio.run(_heartbeats(cluster.dsn))
        return all(now.get(n, 0) - first.get(n, 0) >= 2 * 1000 * NODE_LAPSE_S / 3 for n in running)

    assert poll(beaten_twice, timeout_s=30), "the nodes stopped beating"
