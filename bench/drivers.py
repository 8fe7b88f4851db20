"""Fresh-sandbox rate of each driver next to the machine's limit, interleaved in one bounded run.

`python -m bench.drivers [--rounds 3] [--cycles 16] [--parallel 4] [--egress internet]` measures, round
after round so that load drifts hit every method alike:
- bare node: the runner spawned on the host without any isolation, waited for until it answers its first
  `GET /health`, then killed: the machine's limit for a fresh Node.js process per activation;
- raw Docker churn: hardened containers created, started and force-removed, no runner wait (bench/ceiling.py);
- each driver (`sandbox`, `docker`) with each egress of `--egress` (comma-separated; the configuration's
  default, `internet`, unless given): `create` (which returns only once the runner answered) then `destroy`.
With `--attach-cost`, it measures instead what `internet` egress's network stack (slirp4netns) costs one
sandbox: attached to a fresh network namespace (a holder process as the runner's uid, as bubblewrap makes
it), deny routes in, then killed and reaped; CPU is the gateway's own and its reaped children's
(getrusage; the namespace's holder is reaped outside the window). Commit 9ce08f1 of branch issue10-pasta
measured pasta (passt 2023-03) with it, interleaved: see README, "What it costs".
Each method first runs one untimed cycle (a driver's first create checks its snapshot, makes its parent
cgroups, starts its address watch: ~0.4 s that a 16-cycle round would otherwise count), then `cycles`
cycles, `parallel` at a time, per round; the median rate over rounds is printed with the ratios to bare
node and to the Docker driver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from bench.ceiling import docker_churn_rate
from gateway.config import egress_mode
from pool.runner.client import RunnerConnection, RunnerGone
from pool.runtime.nodejs.files import RUNNER_GID, RUNNER_PATH, RUNNER_UID
from pool.sandbox.docker.engine import DockerSettings, docker_driver
from pool.sandbox.driver import Egress, SandboxDriver
from pool.sandbox.namespace import network
from pool.sandbox.namespace.host import missing, namespace_driver

_START_TIMEOUT_S = 20.0
_POLL_S = 0.002
Cycle = Callable[[], Awaitable[None]]
Method = Callable[[int], Awaitable[tuple[float, float]]]
"""Runs a method's given number of cycles; returns cycles per second and the median cycle in ms."""


def egress_list(text: str) -> tuple[Egress, ...]:
    """`--egress`: comma-separated egress modes (`limits.egress`'s values), each once, in the order given."""
    try:
        modes = [egress_mode(word.strip(), "each egress") for word in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return tuple(dict.fromkeys(modes))


async def bare_node_cycle(node: str, work_dir: Path, n: int) -> None:
    """Spawn the runner on the host, wait for its first answer, kill it."""
    directory = work_dir / f"bare-{n}-{time.monotonic_ns()}"
    directory.mkdir()
    socket_path = directory / "runner.sock"
    env = {"PATH": "/usr/bin:/bin", "WHISKLET_SOCKET": str(socket_path)}
    process = await asyncio.create_subprocess_exec(
        node, "--max-old-space-size=1024", "--expose-gc", str(RUNNER_PATH), env=env, cwd=directory,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(_START_TIMEOUT_S):
            while True:
                if socket_path.exists():
                    try:
                        conn = await RunnerConnection.open(str(socket_path))
                        try:
                            if (await conn.request("GET", "/health", b"{}")).status == 200:
                                return
                        finally:
                            await conn.close()
                    except RunnerGone:
                        pass
                await asyncio.sleep(_POLL_S)
    finally:
        process.kill()
        await process.wait()
        shutil.rmtree(directory, ignore_errors=True)


async def bare_node_rate(cycles: int, parallel: int, node: str = "/usr/bin/node") -> tuple[float, float]:
    """The machine's limit: bare runners spawned, answered and killed per second, and the median cycle in ms."""
    work_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="wkb-"))
    try:
        return await rate(lambda n: bare_node_cycle(node, work_dir, n), cycles, parallel)
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)


async def driver_cycle(driver: SandboxDriver, egress: Egress = "internet") -> None:
    sandbox = await driver.create(256, egress=egress)
    await driver.destroy(sandbox)


async def rate(cycle: Callable[[int], Awaitable[None]], cycles: int, parallel: int) -> tuple[float, float]:
    """Cycles per second and the median cycle latency in ms, `parallel` at a time."""
    slots = asyncio.Semaphore(parallel)
    latencies: list[float] = []

    async def one(n: int) -> None:
        async with slots:
            began = time.monotonic()
            await cycle(n)
            latencies.append(time.monotonic() - began)

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(cycles)))
    return cycles / (time.monotonic() - started), statistics.median(latencies) * 1000


@asynccontextmanager
async def drivers(work_dir: Path, settings: DockerSettings,
                  docker: bool = True) -> AsyncIterator[dict[str, SandboxDriver]]:
    async with AsyncExitStack() as stack:
        opened: dict[str, SandboxDriver] = {}
        if not (problems := await asyncio.to_thread(missing)):
            opened["sandbox driver"] = await stack.enter_async_context(namespace_driver(settings, work_dir / "ns"))
        else:
            print("sandbox driver skipped: " + "; ".join(problems), file=sys.stderr)
        if docker:
            opened["docker driver"] = await stack.enter_async_context(
                docker_driver(settings, str(work_dir / "run"), "bench-drivers"))
        for driver in opened.values():
            await driver.remove_orphans()
        yield opened


async def main(rounds: int, cycles: int, parallel: int, node: str,
               egresses: tuple[Egress, ...] = ("internet",), docker: bool = True) -> dict[str, list[float]]:
    settings = DockerSettings(node_binary=node)
    work_dir = Path(tempfile.mkdtemp(prefix="wkb-"))
    rates: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    try:
        async with drivers(work_dir, settings, docker) as opened:
            methods: dict[str, Method] = {
                "bare node": lambda count: rate(lambda n: bare_node_cycle(node, work_dir, n), count, parallel),
            }
            if docker:
                methods["raw docker churn"] = lambda count: _churn(count, parallel)
            for name, driver in opened.items():
                for egress in egresses:
                    methods[f"{name} ({egress})"] = _driver_method(driver, parallel, egress)
            for warm_up in methods.values():  # one untimed cycle each: see the module's docstring
                await warm_up(1)
            for round_number in range(1, rounds + 1):
                for name, measure in methods.items():
                    per_s, p50_ms = await measure(cycles)
                    rates.setdefault(name, []).append(per_s)
                    latencies.setdefault(name, []).append(p50_ms)
                    print(f"round {round_number}: {name:<26} {per_s:6.1f}/s  p50 cycle {p50_ms:6.0f} ms", flush=True)
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)
    _summary(rates, latencies, cycles, parallel, egresses)
    return rates


def _driver_method(driver: SandboxDriver, parallel: int, egress: Egress) -> Method:
    return lambda count: rate(lambda _n: driver_cycle(driver, egress), count, parallel)


async def _churn(cycles: int, parallel: int) -> tuple[float, float]:
    ceiling = await docker_churn_rate(containers=cycles, parallel=parallel)
    return ceiling.per_s, float("nan")


def _summary(rates: dict[str, list[float]], latencies: dict[str, list[float]], cycles: int, parallel: int,
             egresses: tuple[Egress, ...]) -> None:
    median = {name: statistics.median(values) for name, values in rates.items()}
    bare = median.get("bare node")
    docker = next((value for name, value in median.items() if name.startswith("docker driver")), None)
    print(f"\nmedian over {len(next(iter(rates.values())))} rounds, {cycles} cycles each (after one untimed), "
          f"{parallel} in parallel, egress {', '.join(egresses)} ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}):")
    for name, value in median.items():
        ratios = []
        if bare:
            ratios.append(f"{value / bare:.2f} x bare node")
        if docker:
            ratios.append(f"{value / docker:.2f} x docker driver")
        p50 = statistics.median(latencies[name])
        print(f"  {name:<26} {value:6.1f}/s  p50 cycle {p50:6.0f} ms  ({', '.join(ratios)})")


def attach_cost(deny: list[str]) -> tuple[float, float, float]:
    """One sandbox's `internet` network: attach (deny routes included) and teardown
    (killed, reaped). Returns the CPU ms (the gateway's and its reaped children's), the attach's wall ms
    and the teardown's wall ms. Blocking: run it in a thread or on its own."""
    holder = subprocess.Popen(
        ["setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_GID}", "--clear-groups", "unshare", "--user",
         "--map-root-user", "--net", "sh", "-c", "ip link set lo up && exec cat"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        before = _cpu_s()
        began = time.monotonic()
        attached = network.attach(holder.pid, deny, _START_TIMEOUT_S)
        attached_at = time.monotonic()
        network.stop(attached)
        ended = time.monotonic()
        cpu_ms = (_cpu_s() - before) * 1000
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.kill()
        holder.wait()
    return cpu_ms, (attached_at - began) * 1000, (ended - attached_at) * 1000


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def attach_costs(rounds: int, cycles: int) -> list[tuple[float, float, float]]:
    """`attach_cost` `cycles` times per round (one untimed first); prints each round's and the overall medians."""
    deny = network.denied_networks([])
    attach_cost(deny)
    samples: list[tuple[float, float, float]] = []
    for round_number in range(1, rounds + 1):
        samples += [attach_cost(deny) for _ in range(cycles)]
        cpu, up, down = (statistics.median(column) for column in zip(*samples[-cycles:], strict=True))
        print(f"round {round_number}: CPU {cpu:5.1f} ms  attach {up:5.1f} ms  teardown {down:5.1f} ms", flush=True)
    cpu, up, down = (statistics.median(column) for column in zip(*samples, strict=True))
    p90 = statistics.quantiles([row[0] for row in samples], n=10)[-1]
    print(f"\nslirp4netns, median of {rounds} x {cycles} cycles ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}): CPU {cpu:5.1f} ms (p90 {p90:5.1f}; gateway + its reaped children, getrusage)  "
          f"attach {up:5.1f} ms  teardown {down:5.1f} ms")
    return samples


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.drivers", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=16, help="cycles per method per round (bounded: at most 200)")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--node", default="/usr/bin/node")
    parser.add_argument("--egress", type=egress_list, default=("internet",),
                        help="the drivers' sandboxes' egress, comma-separated: none, api, internet (default internet)")
    parser.add_argument("--no-docker", action="store_true", help="skip raw Docker churn and the docker driver")
    parser.add_argument("--attach-cost", action="store_true",
                        help="measure only the internet network stack's attach + teardown (CPU and wall)")
    args = parser.parse_args(argv)
    args.cycles = max(1, min(args.cycles, 200))
    args.rounds = max(1, min(args.rounds, 10))
    return args


if __name__ == "__main__":
    arguments = _arguments(None)
    if arguments.attach_cost:
        attach_costs(arguments.rounds, arguments.cycles)
        sys.exit(0)
    asyncio.run(main(arguments.rounds, arguments.cycles, arguments.parallel, arguments.node, arguments.egress,
                     not arguments.no_docker))
