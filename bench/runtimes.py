"""Cold start per Node.js kind: a sandbox's creation until its runner's first answer, for every kind, one run.

`python -m bench.runtimes [--rounds 3] [--cycles 12] [--parallel 2] [--docker]` opens the namespace driver
(and the Docker driver with `--docker`) and, round after round so that load drifts hit every kind alike,
creates `cycles` sandboxes of each kind, `parallel` at a time: `create` returns once the runner answered its
warm-up `GET /health`, which is what a cold start waits for; each sandbox is destroyed afterwards (not
timed). Prints the median create-to-first-answer time and the create rate per kind and driver, and each
kind's ratio to the default kind measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.drivers import drivers
from pool.runtime.nodejs.kinds import DEFAULT_KIND, RUNTIMES
from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.driver import SandboxDriver


async def cold_starts(driver: SandboxDriver, kind: str, cycles: int, parallel: int) -> tuple[list[float], float]:
    """Each sandbox's create-to-first-answer time in ms, and sandboxes created per second."""
    slots = asyncio.Semaphore(parallel)
    times_ms: list[float] = []

    async def one() -> None:
        async with slots:
            began = time.monotonic()
            sandbox = await driver.create(256, kind)
            times_ms.append((time.monotonic() - began) * 1000)
            await driver.destroy(sandbox)

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(cycles)))
    return times_ms, cycles / (time.monotonic() - started)


async def main(rounds: int, cycles: int, parallel: int, docker: bool) -> dict[tuple[str, str], float]:
    work_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="wkr-"))
    times: dict[tuple[str, str], list[float]] = {}
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        async with drivers(work_dir, DockerSettings(), docker=docker) as opened:
            for driver in opened.values():  # the snapshot blobs and the first creations are not measured
                for runtime in RUNTIMES:
                    await cold_starts(driver, runtime.kind, 1, 1)
            for round_number in range(1, rounds + 1):
                for name, driver in opened.items():
                    for runtime in RUNTIMES:
                        measured, per_s = await cold_starts(driver, runtime.kind, cycles, parallel)
                        times.setdefault((name, runtime.kind), []).extend(measured)
                        rates.setdefault((name, runtime.kind), []).append(per_s)
                        print(f"round {round_number}: {name:<14} {runtime.kind:<10} p50 "
                              f"{statistics.median(measured):6.0f} ms  {per_s:5.1f}/s", flush=True)
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)
    medians = {key: statistics.median(values) for key, values in times.items()}
    print(f"\ncold start (create -> first answer), {rounds} rounds x {cycles} per kind, {parallel} in parallel "
          f"({os.cpu_count()} CPUs):")
    for (name, kind), p50 in medians.items():
        default = medians[name, DEFAULT_KIND]
        print(f"  {name:<14} {kind:<10} p50 {p50:6.0f} ms  p90 {_p90(times[name, kind]):6.0f} ms  "
              f"{statistics.median(rates[name, kind]):5.1f}/s  ({p50 / default:.2f} x {DEFAULT_KIND})")
    return medians


def _p90(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.9))]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runtimes", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=12, help="sandboxes per kind per round (at most 100)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--docker", action="store_true", help="measure the Docker driver too")
    args = parser.parse_args(argv)
    args.cycles = max(1, min(args.cycles, 100))
    args.rounds = max(1, min(args.rounds, 10))
    args.parallel = max(1, min(args.parallel, 8))
    return args


if __name__ == "__main__":
    arguments = _arguments(None)
    asyncio.run(main(arguments.rounds, arguments.cycles, arguments.parallel, arguments.docker))
