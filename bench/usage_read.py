"""What reading an activation's resource use costs on its path: `driver.resource_use` on a live sandbox.

    python -m bench.usage_read [--reads 500]

For each driver, one prewarmed sandbox runs hello world once, then `resource_use` is awaited `--reads`
times in a row: the wall time of one await (what the activation waits between its logs and its record)
and the process's CPU per read. Bounded; loopback only; the sandboxes are destroyed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.drivers import drivers
from bench.probe import run_action
from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.driver import SandboxDriver


async def read_cost(driver: SandboxDriver, reads: int) -> tuple[float, float, float]:
    """p50 and p99 µs of one awaited read, and the process's CPU µs per read."""
    sandbox = await driver.create(256)
    try:
        await run_action(sandbox, "function main() { return {msg: 'hello'}; }")
        samples: list[float] = []
        cpu_began = time.process_time()
        for _ in range(reads):
            began = time.perf_counter()
            if await driver.resource_use(sandbox) is None:
                raise SystemExit(f"{type(driver).__name__} reads no resource use on this host")
            samples.append((time.perf_counter() - began) * 1e6)
        cpu_us = (time.process_time() - cpu_began) * 1e6 / reads
    finally:
        await driver.destroy(sandbox)
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))], cpu_us


async def main(reads: int) -> None:
    work_dir = Path(tempfile.mkdtemp(prefix="wku-"))
    try:
        async with drivers(work_dir, DockerSettings()) as opened:
            for name, driver in opened.items():
                p50, p99, cpu = await read_cost(driver, reads)
                print(f"{name:<14} resource_use: p50 {p50:6.0f} µs  p99 {p99:6.0f} µs  process CPU {cpu:5.0f} µs/read")
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.usage_read", description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500)
    arguments = parser.parse_args()
    asyncio.run(main(max(1, min(arguments.reads, 5000))))
