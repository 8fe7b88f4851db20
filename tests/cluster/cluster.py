"""A cluster of a test's own on loopback: a fresh PostgreSQL database, real nodes, and haproxy in front.

Every node is a `whisklet serve --store postgresql://... --node-id nN` (bench/serving.py's ServedWhisklet)
with its own data directory and port and real sandboxes; haproxy runs as a child process with a
configuration generated from config/haproxy.cfg's settings and those ports, and is killed by its PID.
Without `WHISKLET_TEST_POSTGRES_URL` the cluster tests are skipped with that reason; with it set (as
scripts/test sets it), a missing haproxy or PostgreSQL fails them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.serving import WHISKLET, ServedWhisklet, free_port, sandbox_names, wait_until
from tests.gateway.store.postgres import POSTGRES_URL, SKIP_REASON, fresh_database

NODE_LAPSE_S = 3
"""store.node_lapse_s of the test nodes: a killed node's activations are taken over within seconds."""

NODE_ENV = {
    "WHISKLET_STORE_NODE_LAPSE_S": str(NODE_LAPSE_S),
    "WHISKLET_POOL_MIN_PREWARM": "1",
}

_HAPROXY_CFG = """global
    maxconn 1024
defaults
    mode http
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    timeout http-request 15s
    timeout check 2s
    retries 2
    option redispatch
frontend whisklet
    bind 127.0.0.1:{port}
    default_backend whisklet_nodes
backend whisklet_nodes
    balance roundrobin
    option httpchk GET /ping
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1
{servers}
"""


@dataclass
class Cluster:
    """`nodes` by node id, all on the database `dsn`, behind haproxy on `balancer_port`."""

    dsn: str
    root: Path
    nodes: dict[str, ServedWhisklet] = field(default_factory=dict)
    balancer_port: int = field(default_factory=free_port)
    haproxy: subprocess.Popen[bytes] | None = None

    @property
    def auth(self) -> tuple[str, str]:
        auth = next(iter(self.nodes.values())).auth
        assert auth is not None
        return auth

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    def client(self, node: str | None = None, auth: tuple[str, str] | None = None) -> httpx.Client:
        """A client through the balancer, or straight to `node`."""
        base = self.url if node is None else self.nodes[node].url
        return httpx.Client(base_url=base, auth=auth or self.auth, timeout=90)

    def add_node(self, node_id: str) -> ServedWhisklet:
        data_dir = self.root / node_id
        data_dir.mkdir(parents=True, exist_ok=True)
        served = ServedWhisklet(data_dir, env=dict(NODE_ENV), args=["--store", self.dsn, "--node-id", node_id])
        self.nodes[node_id] = served
        return served

    def start(self, node_id: str) -> None:
        """Start a node; one joining after the first gets the first's wskprops (README "Cluster")."""
        served = self.nodes[node_id]
        first = next(iter(self.nodes.values()))
        if served is not first and not (served.data_dir / "wskprops").exists():
            shutil.copy(first.data_dir / "wskprops", served.data_dir / "wskprops")
        served.start()

    def start_balancer(self) -> None:
        servers = "\n".join(f"    server {n} 127.0.0.1:{s.port}" for n, s in self.nodes.items())
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(_HAPROXY_CFG.format(port=self.balancer_port, servers=servers))
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert wait_until(self.balancer_sees_every_node, timeout_s=30), "haproxy never saw every node up"

    def balancer_sees_every_node(self) -> bool:
        """Every node answered /ping through the balancer (round robin: one ping per node in turn)."""
        try:
            return all(httpx.get(f"{self.url}/ping", timeout=5).status_code == 200 for _ in self.nodes)
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait(10)
        for served in self.nodes.values():
            served.kill()
        for served in self.nodes.values():
            for name in sandbox_names(served.data_dir):
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)


@contextlib.contextmanager
def running_cluster(root: Path, node_ids: tuple[str, ...] = ("n1", "n2", "n3")) -> Iterator[Cluster]:
    """A fresh database, `node_ids` started (the first alone, then the rest at once) and haproxy in front."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is missing: scripts/setup installs Debian's haproxy (apt-get install haproxy)")
    with fresh_database("whisklet_cluster") as (dsn, _):
        cluster = Cluster(dsn, root)
        try:
            for node_id in node_ids:
                cluster.add_node(node_id)
            cluster.start(node_ids[0])
            starting = [threading.Thread(target=cluster.start, args=(n,)) for n in node_ids[1:]]
            for thread in starting:
                thread.start()
            for thread in starting:
                thread.join()
            for node_id in node_ids:
                assert cluster.nodes[node_id].auth is not None, f"node {node_id} did not start"
            cluster.start_balancer()
            yield cluster
        finally:
            cluster.stop()


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
    import asyncpg

    db = await asyncpg.connect(dsn)
    try:
        return {r[0]: r[1] for r in await db.fetch("SELECT node_id, heartbeat FROM nodes")}
    finally:
        await db.close()


def every_node_counts_the_others(cluster: Cluster) -> None:
    """Return once every running node has beaten twice since now: each has counted the live nodes since
    (the count is read every beat, with the heartbeat), so each enforces its share of the throttles."""
    import asyncio

    running = [n for n, s in cluster.nodes.items() if s.process is not None and s.process.poll() is None]
    first = asyncio.run(_heartbeats(cluster.dsn))

    def beaten_twice() -> bool:
        now = asyncio.run(_heartbeats(cluster.dsn))
        return all(now.get(n, 0) - first.get(n, 0) >= 2 * 1000 * NODE_LAPSE_S / 3 for n in running)

    assert poll(beaten_twice, timeout_s=30), "the nodes stopped beating"
