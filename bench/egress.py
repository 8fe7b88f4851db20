"""What egress costs a fresh sandbox: the namespace driver's create -> first answer -> destroy rate per
egress mode (`none`, `api`, `internet`), interleaved in one bounded run.

`python -m bench.egress [--rounds 3] [--cycles 16] [--parallel 4]` runs, round after round so that load
drifts hit every mode alike, `cycles` cycles of `create(256, mode)` (which returns only once the runner
answered its warm-up) then `destroy`, `parallel` at a time, per mode. That cycle is what bounds
fresh-activation throughput (each activation gets a fresh sandbox; /init + /run cost the same in every
mode). Prints the median rate over rounds, the median cycle latency, and each mode's ratio to `none`.
With `--http N`, each round also serves `whisklet serve` once with `limits.egress = none` and once with
`internet` (the pool prewarms that mode) and times N blocking hello-world invokes, 4 in flight, each in a
fresh sandbox: fresh-activation throughput through HTTP, side by side. No packet leaves any sandbox:
nothing runs in them but the runner and hello world.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.core import LIMITS, invoke_many
from bench.drivers import rate
from bench.serving import ServedWhisklet
from bench.throughput import ACTION, put_hello, settled
from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.driver import EGRESS_MODES, Egress, SandboxDriver
from pool.sandbox.namespace.host import missing, namespace_driver
from pool.sandbox.namespace.network import missing as network_missing


async def _cycle(driver: SandboxDriver, egress: Egress) -> None:
    sandbox = await driver.create(256, egress=egress)
    await driver.destroy(sandbox)


def _cycles_of(driver: SandboxDriver, egress: Egress) -> Callable[[int], Awaitable[None]]:
    async def cycle(_n: int) -> None:
        await _cycle(driver, egress)

    return cycle


async def main(rounds: int, cycles: int, parallel: int) -> dict[str, list[float]]:
    problems = await asyncio.to_thread(missing)
    if (lacking := network_missing()) is not None:
        problems.append(lacking)
    if problems:
        print("the namespace driver with egress cannot run here: " + "; ".join(problems), file=sys.stderr)
        return {}
    rates: dict[str, list[float]] = {mode: [] for mode in EGRESS_MODES}
    latencies: dict[str, list[float]] = {mode: [] for mode in EGRESS_MODES}
    with tempfile.TemporaryDirectory(prefix="whisklet-bench-egress-") as work:
        async with namespace_driver(DockerSettings(), Path(work) / "ns") as driver:
            await driver.remove_orphans()
            for mode in EGRESS_MODES:  # warm-up: the runtime tree and the snapshot blob are made once
                await _cycle(driver, mode)
            for _ in range(rounds):
                for mode in EGRESS_MODES:
                    per_s, p50_ms = await rate(_cycles_of(driver, mode), cycles, parallel)
                    rates[mode].append(per_s)
                    latencies[mode].append(p50_ms)
    baseline = statistics.median(rates["none"])
    print(f"namespace driver, create -> first answer -> destroy, {cycles} cycles x {rounds} rounds, "
          f"{parallel} in parallel:")
    for mode in EGRESS_MODES:
        value = statistics.median(rates[mode])
        print(f"  egress {mode:<9} {value:6.1f}/s  p50 cycle {statistics.median(latencies[mode]):6.0f} ms  "
              f"({value / baseline:.2f} x none)")
    return rates


async def http_rounds(rounds: int, count: int, in_flight: int = 4) -> dict[str, list[float]]:
    """Fresh activations per second through HTTP with `limits.egress` none and internet, interleaved."""
    rates: dict[str, list[float]] = {"none": [], "internet": []}
    failed = 0
    with tempfile.TemporaryDirectory(prefix="whisklet-bench-egress-http-") as work:
        for round_ in range(rounds):
            for mode in rates:
                served = ServedWhisklet(Path(work) / f"{mode}-{round_}", env={
                    **LIMITS, "WHISKLET_POOL_DRIVER": "sandbox", "WHISKLET_POOL_MIN_PREWARM": "4",
                    "WHISKLET_LIMITS_EGRESS": mode,
                }).start()
                try:
                    await put_hello(served)
                    await settled(served)
                    seconds, _latencies, _ids, failures = await invoke_many(served, count, in_flight, ACTION)
                    rates[mode].append(count / seconds)
                    failed += failures
                finally:
                    served.stop()
    baseline = statistics.median(rates["none"])
    print(f"through HTTP, {count} blocking hello-world invokes x {rounds} rounds, {in_flight} in flight, "
          f"a fresh sandbox each ({failed} failed):")
    for mode, values in rates.items():
        value = statistics.median(values)
        print(f"  egress {mode:<9} {value:6.1f} activations/s  ({value / baseline:.2f} x none)")
    return rates


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.egress", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=16, help="cycles per mode per round (bounded: at most 200)")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--http", type=int, default=0, metavar="N",
                        help="also N invokes through HTTP per mode per round (bounded: at most 600)")
    args = parser.parse_args(argv)
    args.http = max(0, min(args.http, 600))
    args.cycles = max(1, min(args.cycles, 200))
    args.rounds = max(1, min(args.rounds, 10))
    args.parallel = max(1, min(args.parallel, 16))
    return args


if __name__ == "__main__":
    arguments = _arguments(None)
    asyncio.run(main(arguments.rounds, arguments.cycles, arguments.parallel))
    if arguments.http:
        asyncio.run(http_rounds(arguments.rounds, arguments.http))
