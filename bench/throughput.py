"""Fresh-activation throughput through HTTP with each driver, next to the machine's limit, in one bounded run.

    python -m bench.throughput [--rounds 3] [--activations 300] [--parallel 4] [--cycles 40] [--cold 3]
                               [--drivers sandbox,docker] [--egress internet]

Round after round, so that load drifts (other users of the machine) hit every method alike:
1. bare-Node spawn rate, the machine's limit (`bench.drivers`): the runner spawned on the host without
   isolation, its first `GET /health` answered, killed; `--cycles` cycles, `--parallel` at a time;
2. raw Docker churn (`bench.ceiling`): hardened containers created, started, force-removed;
3. per driver (`sandbox`, `docker`) and per egress of `--egress` (comma-separated, default `internet`, the
   configuration's default; several are interleaved in each round), one `whisklet serve` each (started
   once, 4 prewarmed sandboxes, `limits.egress` set):
   `--activations / --rounds` blocking hello-world invokes (`result=true`), `--parallel` in flight on
   kept-alive connections, each phase started with the pool back at its minimum. Every activation
   consumes a fresh sandbox, so this is the driver's sustained fresh-activation rate through the whole
   gateway (the prewarmed stock the phase used up is not counted as made during it). Per activation: the
   gateway's CPU (its process's
   `/proc/<pid>/stat`), the sandboxes' CPU (the driver's parent cgroup `cpuacct.usage`, which keeps
   removed children's usage in cgroup v1: start-up included; for Docker the engine's `docker` parent,
   shared with any other container running then), the activations' own `cpuTime` (their records), and
   for Docker the engine's daemons (dockerd + containerd; the per-container shims are not counted);
4. cold start with no prewarmed sandbox, per driver: a second `whisklet serve` with `pool.min_prewarm = 0`,
   waited on until its pool is empty and idle, then one blocking invoke (create -> result); `--cold` per round.
Before every phase every server's pool is let settle (no creation or destroy in flight), so that no
refill runs beside a measurement and each phase's CPU counters include the refills it caused and nothing
of the one before. The load average (other users of the machine) is printed per round. Bounded in count and time; loopback
only; every server and sandbox it starts is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.ceiling import docker_churn_rate
from bench.core import HELLO, LIMITS, NS, Http, cpu_s, invoke_many, percentile
from bench.drivers import bare_node_rate, egress_list
from bench.serving import ServedWhisklet

ACTION = "throughput-hello"
DRIVERS = ("sandbox", "docker")
MIN_PREWARM = 4
CGROUP = Path("/sys/fs/cgroup/cpuacct")
ENGINE_DAEMONS = ("dockerd", "containerd")
_SETTLE_S = 30.0
_EMPTY_S = 60.0
_POLL_S = 0.1


@dataclass
class Served:
    """One driver's `whisklet serve` for the sustained rate, and one with no prewarmed sandbox for cold starts."""

    driver: str
    egress: str
    sustained: ServedWhisklet
    cold: ServedWhisklet
    rates: list[float] = field(default_factory=list)
    per_bare: list[float] = field(default_factory=list)  # each round's rate over that round's bare-Node rate
    latencies_ms: list[float] = field(default_factory=list)
    gateway_ms: float = 0.0
    sandboxes_ms: float = 0.0
    engine_ms: float = 0.0
    activation_cpu_ms: list[int] = field(default_factory=list)
    activations: int = 0
    failures: int = 0
    cold_ms: list[float] = field(default_factory=list)
    cold_flagged: int = 0

    @property
    def label(self) -> str:
        return f"{self.driver} ({self.egress})"


def sandboxes_cpu_ms(driver: str, data_dir: Path) -> Callable[[], float]:
    """The driver's parent cgroup's CPU time so far, in ms (cgroup v1 `cpuacct`)."""
    if driver == "docker":
        usage = CGROUP / "docker" / "cpuacct.usage"
    else:  # the namespace driver's scope: pool/sandbox/namespace/cgroups.py, digest of the data directory
        usage = CGROUP / "whisklet" / hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16] / "cpuacct.usage"

    def read() -> float:
        try:
            return int(usage.read_text()) / 1e6
        except FileNotFoundError:  # not made yet: nothing used
            return 0.0

    return read


def engine_cpu_ms() -> float:
    """CPU time of the Docker engine's daemons so far, in ms."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ENGINE_DAEMONS:
                    total += cpu_s(int(entry.name)) * 1000
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def serve(driver: str, egress: str, data_dir: Path, min_prewarm: int) -> ServedWhisklet:
    return ServedWhisklet(data_dir, env={
        **LIMITS, "WHISKLET_POOL_DRIVER": driver, "WHISKLET_POOL_MIN_PREWARM": str(min_prewarm),
        "WHISKLET_LIMITS_EGRESS": egress,
        "WHISKLET_POOL_IDLE_SHRINK_AFTER_S": "0", "WHISKLET_POOL_RATE_WINDOW_S": "2",
    }).start()


async def pool_gauges(served: ServedWhisklet) -> dict[str, float]:
    """`whisklet_pool_containers` by state, from `/metrics`."""
    client = Http(served.port, None)
    try:
        status, _, body = await client.request("GET", "/metrics")
    finally:
        await client.close()
    assert status == 200
    gauges = {}
    for line in body.decode().splitlines():
        if line.startswith('whisklet_pool_containers{state="'):
            state = line.split('"')[1]
            gauges[state] = float(line.rsplit(" ", 1)[1])
    return gauges


async def settled(served: ServedWhisklet, prewarmed: int | None = None) -> float:
    """Wait (bounded) until no sandbox is being created or destroyed (and, if given, exactly `prewarmed`
    are prewarmed: the pool back at its minimum); returns how many are prewarmed."""
    deadline = time.monotonic() + (_EMPTY_S if prewarmed is not None else _SETTLE_S)
    while time.monotonic() < deadline:
        gauges = await pool_gauges(served)
        busy = gauges.get("creating", 0) + gauges.get("destroying", 0) + gauges.get("leased", 0)
        if not busy and (prewarmed is None or gauges.get("prewarmed", 0) == prewarmed):
            return gauges.get("prewarmed", 0)
        await asyncio.sleep(_POLL_S)
    raise RuntimeError(f"the pool of {served.url} did not settle: {gauges}")


async def put_hello(served: ServedWhisklet) -> None:
    client = Http(served.port, served.auth)
    try:
        status, _, body = await client.request("PUT", f"{NS}/actions/{ACTION}?overwrite=true",
                                               {"exec": {"kind": "nodejs:default", "code": HELLO}})
        assert status == 200, body
    finally:
        await client.close()


async def annotations_of(served: ServedWhisklet, ids: list[str]) -> list[dict[str, object]]:
    client = Http(served.port, served.auth)
    found = []
    try:
        for activation_id in ids:
            status, _, body = await client.request("GET", f"{NS}/activations/{activation_id}")
            if status == 200:
                found.append({a["key"]: a["value"] for a in json.loads(body)["annotations"]})
    finally:
        await client.close()
    return found


async def sustained_round(server: Served, count: int, in_flight: int) -> None:
    served = server.sustained
    assert served.process is not None
    stock = await settled(served, prewarmed=MIN_PREWARM)
    gateway_s, sandboxes_ms, engine_ms = cpu_s(served.process.pid), server_cpu(server)(), engine_cpu_ms()
    seconds, latencies, ids, failures = await invoke_many(served, count, in_flight, ACTION)
    left = (await pool_gauges(served)).get("prewarmed", 0)
    per_s = (count - max(0.0, stock - left)) / seconds  # sandboxes made during the phase, not its stock
    await settled(served)
    server.gateway_ms += (cpu_s(served.process.pid) - gateway_s) * 1000
    server.sandboxes_ms += server_cpu(server)() - sandboxes_ms
    server.engine_ms += engine_cpu_ms() - engine_ms
    server.rates.append(per_s)
    server.latencies_ms += latencies
    server.activations += count
    server.failures += failures
    notes = await annotations_of(served, ids)
    server.activation_cpu_ms += [cpu_ms for n in notes if isinstance(cpu_ms := n.get("cpuTime"), int)]
    print(f"  {server.label:<20} through HTTP {per_s:6.1f}/s  p50 {percentile(latencies, 50):6.0f} ms  "
          f"p99 {percentile(latencies, 99):6.0f} ms  failures {failures}", flush=True)


def server_cpu(server: Served) -> Callable[[], float]:
    return sandboxes_cpu_ms(server.driver, server.sustained.data_dir)


async def cold_round(server: Served, probes: int) -> None:
    client = Http(server.cold.port, server.cold.auth)
    try:
        for _ in range(probes):
            await settled(server.cold, prewarmed=0)
            began = time.monotonic()
            status, headers, body = await client.request(
                "POST", f"{NS}/actions/{ACTION}?blocking=true&result=true", {"name": "cold"})
            server.cold_ms.append((time.monotonic() - began) * 1000)
            assert status == 200, body
            notes = await annotations_of(server.cold, [headers[b"x-openwhisk-activation-id"].decode()])
            server.cold_flagged += bool(notes and notes[0].get("coldStart"))
    finally:
        await client.close()
    print(f"  {server.label:<20} cold start (no prewarmed sandbox) p50 {statistics.median(server.cold_ms):6.0f} ms", flush=True)


def summary(servers: dict[str, Served], bare: list[float], churn: list[float], parallel: int, load: tuple[float, float]) -> None:
    bare_per_s, churn_per_s = statistics.median(bare), statistics.median(churn)
    print(f"\nmedian over {len(bare)} rounds (ratios: of the medians, and the median of each round's own), "
          f"{parallel} in parallel, {os.cpu_count()} CPUs, load average {load[0]:.1f} at the start, "
          f"{load[1]:.1f} at the end:")
    print(f"  bare-Node spawn rate (the machine's limit) {bare_per_s:6.1f}/s")
    print(f"  raw Docker churn                           {churn_per_s:6.1f}/s")
    for server in servers.values():
        docker = servers.get(f"docker ({server.egress})")
        per_s = statistics.median(server.rates)
        ratios = f"{per_s / bare_per_s:.2f} x bare Node; paired per round {statistics.median(server.per_bare):.2f}"
        if docker and docker.rates and server is not docker:
            paired = statistics.median(a / b for a, b in zip(server.rates, docker.rates, strict=True))
            ratios += f"; {per_s / statistics.median(docker.rates):.1f} x the docker driver, paired {paired:.1f}"
        engine = f" + engine {server.engine_ms / server.activations:.1f}" if server.driver == "docker" else ""
        own = statistics.median(server.activation_cpu_ms) if server.activation_cpu_ms else float("nan")
        print(f"  {server.driver} driver, egress {server.egress}, through HTTP {per_s:6.1f}/s ({ratios}); latency p50 "
              f"{percentile(server.latencies_ms, 50):.0f} ms, p99 {percentile(server.latencies_ms, 99):.0f} ms; "
              f"{server.failures}/{server.activations} failed")
        print(f"    CPU ms per activation: gateway {server.gateway_ms / server.activations:.1f}, sandboxes "
              f"{server.sandboxes_ms / server.activations:.1f}{engine}; the action's own cpuTime p50 {own:.0f}")
        print(f"    cold start, no prewarmed sandbox (create -> result): p50 {statistics.median(server.cold_ms):.0f} ms "
              f"over {len(server.cold_ms)} ({server.cold_flagged} annotated coldStart)")


async def measure(servers: dict[str, Served], rounds: int, per_round: int, parallel: int, cycles: int, cold: int) -> None:
    load_start = os.getloadavg()[0]
    bare: list[float] = []
    churn: list[float] = []
    for server in servers.values():
        for served in (server.sustained, server.cold):
            await put_hello(served)
        await invoke_many(server.sustained, 2 * parallel, parallel, ACTION)  # warms the gateway's own code paths
    every = [served for server in servers.values() for served in (server.sustained, server.cold)]
    for round_number in range(1, rounds + 1):
        await asyncio.gather(*(settled(served) for served in every))  # no refill runs beside the next phases
        print(f"round {round_number} (load average {os.getloadavg()[0]:.1f}):", flush=True)
        bare.append((await bare_node_rate(cycles, parallel))[0])
        print(f"  bare Node {bare[-1]:6.1f}/s", flush=True)
        await asyncio.gather(*(settled(served) for served in every))
        churn.append((await docker_churn_rate(containers=cycles, parallel=parallel)).per_s)
        print(f"  raw Docker churn {churn[-1]:6.1f}/s", flush=True)
        for server in servers.values():
            await sustained_round(server, per_round, parallel)
            server.per_bare.append(server.rates[-1] / bare[-1])
        for server in servers.values():
            await cold_round(server, cold)
    summary(servers, bare, churn, parallel, (load_start, os.getloadavg()[0]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--activations", type=int, default=300, help="per driver, over all rounds (at most 3000)")
    parser.add_argument("--parallel", type=int, default=4, help="in flight (HTTP) / at a time (bare Node, Docker churn)")
    parser.add_argument("--cycles", type=int, default=40, help="bare-Node and Docker churn cycles per round (at most 200)")
    parser.add_argument("--cold", type=int, default=3, help="cold starts per driver per round (at most 20)")
    parser.add_argument("--drivers", default=",".join(DRIVERS))
    parser.add_argument("--egress", type=egress_list, default=("internet",),
                        help="the sandboxes' egress, comma-separated: none, api, internet (default internet)")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 10))
    per_round = max(1, min(args.activations, 3000) // rounds)
    work = Path(tempfile.mkdtemp(prefix="wl-throughput-", dir="/tmp"))
    servers: dict[str, Served] = {}
    try:
        for driver in args.drivers.split(","):
            for egress in args.egress:
                server = Served(driver, egress, serve(driver, egress, work / f"{driver}-{egress}", MIN_PREWARM),
                                serve(driver, egress, work / f"{driver}-{egress}-cold", 0))
                servers[server.label] = server
        asyncio.run(measure(servers, rounds, per_round, max(1, args.parallel), max(1, min(args.cycles, 200)),
                            max(1, min(args.cold, 20))))
    finally:
        for server in servers.values():
            server.sustained.stop()
            server.cold.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
