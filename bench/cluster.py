"""Whisklet nodes on one PostgreSQL behind haproxy on loopback: the `Cluster` the cluster tests start, and
the benchmark of its throughput with 1, 2 and 3 nodes, one node on PostgreSQL next to one on SQLite, and
what the shared throttle costs per invoke.

    WHISKLET_TEST_POSTGRES_URL=postgresql://... python -m bench.cluster [--invokes 60] [--parallel 6]

Bounded: every phase sends a fixed number of invokes (each one a fresh sandbox, as every Whisklet
activation is) with a time limit; databases are created for the run and dropped after it; every process
(nodes, haproxy) is this run's own, on 127.0.0.1, and killed by its PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import httpx

from bench.serving import WHISKLET, ServedWhisklet, free_port, sandbox_names, wait_until
from bench.store_write_rate import postgres_database

NS = "/api/v1/namespaces/_"
NOOP = "function main(p) { return {n: p.n}; }"

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
"""config/haproxy.cfg's settings on a run's own ports, with health checks every 500 ms."""


@dataclass
class Cluster:
    """`nodes` by node id, all on the database `dsn`, behind haproxy on `balancer_port` (all on 127.0.0.1)."""

    dsn: str
    root: Path
    node_env: dict[str, str] = field(default_factory=dict)
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
        served = ServedWhisklet(data_dir, env=dict(self.node_env), args=["--store", self.dsn, "--node-id", node_id])
        self.nodes[node_id] = served
        return served

    def start(self, node_id: str) -> None:
        """Start a node; one joining after the first gets the first's wskprops (README "Cluster")."""
        served = self.nodes[node_id]
        first = next(iter(self.nodes.values()))
        if served is not first and not (served.data_dir / "wskprops").exists():
            shutil.copy(first.data_dir / "wskprops", served.data_dir / "wskprops")
        served.start()

    def start_all(self) -> None:
        """The first node alone (it creates `guest`), then the others at once, then the balancer."""
        ids = list(self.nodes)
        self.start(ids[0])
        starting = [threading.Thread(target=self.start, args=(n,)) for n in ids[1:]]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        for node_id in ids:
            assert self.nodes[node_id].auth is not None, f"node {node_id} did not start"
        self.start_balancer()

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
        """Kill haproxy; stop every node (SIGTERM: it destroys its sandboxes; SIGKILL after 30 s), then
        remove whatever sandbox a node killed earlier left (its bwrap outlives it until it restarts)."""
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait(10)
        for served in self.nodes.values():
            if served.process is not None and served.process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    served.stop(timeout_s=30)
            served.kill()
            remove_sandboxes(served.data_dir)


def remove_sandboxes(data_dir: Path) -> None:
    """Remove the sandboxes of a stopped node on `data_dir`: its Docker containers, and every process in its
    namespace sandboxes' cgroups (bench/serving.py's `sandbox_names` scope), then those cgroups."""
    for name in sandbox_names(data_dir):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    scope = hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]
    scopes = [Path("/sys/fs/cgroup") / hierarchy / "whisklet" / scope for hierarchy in ("pids", "memory", "cpuacct", ".")]
    sandboxes = [entry for parent in scopes if parent.is_dir() for entry in parent.iterdir() if entry.is_dir()]
    for sandbox in sandboxes:
        with contextlib.suppress(OSError):
            for pid in (sandbox / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
    for cgroup in [*sandboxes, *scopes]:
        wait_until(lambda c=cgroup: _removed(c), timeout_s=5)


def _removed(cgroup: Path) -> bool:
    """rmdir an emptied cgroup; False while its last processes are still exiting."""
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


@contextlib.contextmanager
def started(dsn: str, root: Path, node_ids: list[str], env: dict[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(dsn, root, node_env=env or {})
    try:
        for node_id in node_ids:
            cluster.add_node(node_id)
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop()


# the benchmark


def invokes_per_s(client: httpx.Client, count: int, parallel: int, time_limit_s: float) -> float:
    """Blocking invokes of the noop action, `parallel` at a time; completed ones per second."""
    deadline = time.monotonic() + time_limit_s

    def one(n: int) -> bool:
        if time.monotonic() > deadline:
            return False
        answered = client.post(f"{NS}/actions/noop", params={"blocking": "true", "result": "true"}, json={"n": n})
        return answered.status_code == 200

    began = time.monotonic()
    with ThreadPoolExecutor(parallel) as threads:
        done = sum(threads.map(one, range(count)))
    return done / (time.monotonic() - began)


def warm_latency_ms(client: httpx.Client, count: int) -> tuple[float, float]:
    """(median, p90) of sequential blocking invokes, in ms."""
    took = []
    for n in range(count):
        began = time.perf_counter()
        answered = client.post(f"{NS}/actions/noop", params={"blocking": "true", "result": "true"}, json={"n": n})
        took.append((time.perf_counter() - began) * 1000)
        assert answered.status_code == 200, answered.text
    return statistics.median(took), statistics.quantiles(took, n=10)[-1]


def prepared(client: httpx.Client) -> None:
    put = client.put(f"{NS}/actions/noop", params={"overwrite": "true"}, json={"exec": {"kind": "nodejs:default", "code": NOOP}})
    assert put.status_code == 200, put.text
    for n in range(3):  # warm: the action read into every node's cache, the pools running
        client.post(f"{NS}/actions/noop", params={"blocking": "true"}, json={"n": n})


def unthrottled(dsn: str) -> None:
    """Lift guest's throttles for the run (the benchmark measures sandboxes, not the 60 a minute default)."""
    subprocess.run(
        [str(WHISKLET), "namespace", "limits", "guest", "--store", dsn,
         "--invocations-per-minute", "100000", "--concurrent-invocations", "1000"],
        check=True, capture_output=True,
    )


async def throttle_costs(dsn: str, count: int) -> tuple[float, float]:
    """(µs per invoke of the per-node share, ms per invoke of a shared counter row in PostgreSQL)."""
    from gateway.invoke.admission import MinuteCounter, Throttle

    throttle = Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0))
    throttle.share.set_live_nodes(3)
    began = time.perf_counter()
    for _ in range(count * 10):
        throttle.admit_invocation("guest", per_minute=10**9, concurrent=10)
        throttle.release_invocation("guest")
    share_us = (time.perf_counter() - began) / (count * 10) * 1e6
    db = await asyncpg.connect(dsn)
    try:
        await db.execute(
            "CREATE TEMP TABLE minute_counts (namespace TEXT, minute BIGINT, count INT, PRIMARY KEY (namespace, minute))"
        )
        began = time.perf_counter()
        for _ in range(count):
            await db.fetchval(
                "INSERT INTO minute_counts VALUES ($1, $2, 1) ON CONFLICT (namespace, minute)"
                " DO UPDATE SET count = minute_counts.count + 1 RETURNING count",
                "guest", 0,
            )
        counter_ms = (time.perf_counter() - began) / count * 1000
    finally:
        await db.close()
    return share_us, counter_ms


def main(args: argparse.Namespace) -> None:
    if not args.postgres:
        raise SystemExit("no PostgreSQL: pass --postgres URL or set WHISKLET_TEST_POSTGRES_URL (scripts/setup starts one)")
    if shutil.which("haproxy") is None:
        raise SystemExit("no haproxy: scripts/setup installs Debian's haproxy")
    print(f"{args.invokes} blocking invokes of a noop action per phase, {args.parallel} in parallel;"
          f" load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="whisklet-bench-cluster-") as scratch:
        print(f"{'nodes':>5} {'through':<9} {'activations/s':>14} {'load':>6}")
        for count in (1, 2, 3):
            node_ids = [f"n{i}" for i in range(1, count + 1)]
            with fresh(args.postgres) as dsn, started(dsn, Path(scratch) / f"c{count}", node_ids) as cluster:
                unthrottled(dsn)
                with cluster.client() as client:
                    prepared(client)
                    rate = invokes_per_s(client, args.invokes, args.parallel, args.time_limit_s)
                print(f"{count:>5} {'haproxy':<9} {rate:>14.1f} {os.getloadavg()[0]:>6.1f}", flush=True)
        print()
        print(f"{'engine':<11} {'activations/s':>14} {'warm median ms':>15} {'warm p90 ms':>12}")
        with fresh(args.postgres) as dsn:
            on_postgres = ServedWhisklet(Path(scratch) / "pg", args=["--store", dsn, "--node-id", "pg1"])
            on_sqlite = ServedWhisklet(Path(scratch) / "sqlite")
            try:
                on_postgres.start()
                on_sqlite.start()
                unthrottled(dsn)
                subprocess.run(
                    [str(WHISKLET), "namespace", "limits", "guest", "--data-dir", str(on_sqlite.data_dir),
                     "--invocations-per-minute", "100000", "--concurrent-invocations", "1000"],
                    check=True, capture_output=True,
                )
                for engine, node in (("postgresql", on_postgres), ("sqlite", on_sqlite)):
                    with node.client() as client:
                        prepared(client)
                        rate = invokes_per_s(client, args.invokes, args.parallel, args.time_limit_s)
                        median_ms, p90_ms = warm_latency_ms(client, args.latency_invokes)
                    print(f"{engine:<11} {rate:>14.1f} {median_ms:>15.1f} {p90_ms:>12.1f}", flush=True)
            finally:
                for node in (on_postgres, on_sqlite):
                    if node.process is not None:
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            node.stop(timeout_s=30)
                    node.kill()
                    remove_sandboxes(node.data_dir)
            share_us, counter_ms = asyncio.run(throttle_costs(dsn, args.counter_round_trips))
        print()
        print(f"throttle per invoke: per-node share {share_us:.2f} us in process (no database round trip);"
              f" a shared PostgreSQL counter row would cost {counter_ms:.3f} ms (one upsert round trip,"
              f" {args.counter_round_trips} sequential)")


@contextlib.contextmanager
def fresh(url: str) -> Iterator[str]:
    """A database of this run's own, dropped after (bench.store_write_rate's, from synchronous code)."""
    loop = asyncio.new_event_loop()
    manager = postgres_database(url)
    try:
        dsn = loop.run_until_complete(manager.__aenter__())
        try:
            yield dsn
        finally:
            loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--invokes", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=6)
    parser.add_argument("--latency-invokes", type=int, default=30)
    parser.add_argument("--counter-round-trips", type=int, default=2000)
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--postgres", default=os.environ.get("WHISKLET_TEST_POSTGRES_URL", ""))
    args = parser.parse_args(argv)
    for name in ("invokes", "parallel", "latency_invokes", "counter_round_trips"):
        if not 1 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name.replace('_', '-')} must be from 1 to 100000")
    if not 0 < args.time_limit_s <= 600:
        parser.error("--time-limit-s must be more than 0 and at most 600")
    return args


if __name__ == "__main__":
    main(parse())
