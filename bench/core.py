"""Core figures of one Whisklet on this machine, measured side by side in one run.

    python -m bench.core [--activations 1000] [--sequential 200]

1. `whisklet serve` to its ready line, with the runtime image present (median of 3 starts).
2. A blocking `result=true` hello-world invocation through HTTP with a warm pool, sequentially,
   paced so the pool stays warm: p50/p99.
3. The two Unix-socket round trips alone (`/init` + `/run`) on prewarmed runners: p50/p99.
4. The gateway's resident memory idle and after N activations.
5. Containers per second the pool sustains under a backlog, next to raw Docker
   create+start+remove with the same settings (`bench.ceiling`).
Bounded in requests and time; every process and container it starts is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiodocker
import httpx

from bench.ceiling import docker_churn_rate
from pool.sandbox.docker.driver import DockerDriver
from pool.sandbox.docker.image import ensure_image
from pool.runner.client import RunnerConnection
from tests.serving import ServedWhisklet

HELLO = "function main(params) { return { msg: 'hello ' + (params.name || 'world') }; }"
LIMITS = {
    "WHISKLET_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
    "WHISKLET_LIMITS_CONCURRENT_INVOCATIONS": "10000",
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def time_to_ready(data_dir: Path, starts: int = 3) -> float:
    samples = []
    for _ in range(starts):
        served = ServedWhisklet(data_dir, env=LIMITS)
        began = time.monotonic()
        served.start()
        samples.append(time.monotonic() - began)
        served.stop()
    return statistics.median(samples)


def sequential_latency(served: ServedWhisklet, count: int, pace_s: float) -> list[float]:
    samples = []
    with served.client() as wsk:
        wsk.put("/api/v1/namespaces/_/actions/bench-hello", params={"overwrite": "true"},
                json={"exec": {"kind": "nodejs:default", "code": HELLO}}).raise_for_status()
        for n in range(count + 5):
            began = time.perf_counter()
            response = wsk.post("/api/v1/namespaces/_/actions/bench-hello",
                                params={"blocking": "true", "result": "true"}, json={"name": str(n)})
            elapsed = time.perf_counter() - began
            response.raise_for_status()
            if n >= 5:  # the first few warm the gateway's own code paths
                samples.append(elapsed * 1000)
            time.sleep(pace_s)
    return samples


async def sustained_rate(served: ServedWhisklet, count: int, in_flight: int = 8) -> tuple[float, int]:
    """Run `count` blocking activations, `in_flight` at a time; return (activations/s, failures).

    Every activation consumes a fresh container, so this is the container rate the pool sustains.
    """
    slots = asyncio.Semaphore(in_flight)
    failures = 0

    async def one(client: httpx.AsyncClient, n: int) -> None:
        nonlocal failures
        async with slots:
            response = await client.post("/api/v1/namespaces/_/actions/bench-hello",
                                         params={"blocking": "true", "result": "true"}, json={"name": str(n)})
            failures += response.status_code != 200

    async with httpx.AsyncClient(base_url=served.url, auth=served.auth, timeout=120) as client:
        began = time.monotonic()
        await asyncio.gather(*(one(client, n) for n in range(count)))
        return count / (time.monotonic() - began), failures


async def socket_round_trips(count: int) -> list[float]:
    """`/init` + `/run` of hello world on `count` prewarmed runners, through the real driver."""
    docker = aiodocker.Docker()
    samples = []
    try:
        image = await ensure_image(docker)
        with tempfile.TemporaryDirectory(prefix="wl-rt-", dir="/tmp") as run_dir:
            driver = DockerDriver(docker, image, run_dir, "bench", scope="bench-round-trips")
            try:
                init = b'{"value":{"name":"hello","main":"main","binary":false,"code":"%s"}}' % HELLO.encode()
                for n in range(count):
                    sandbox = await driver.create(256)
                    connection = await RunnerConnection.open(sandbox.socket_path)
                    began = time.perf_counter()
                    await connection.request("POST", "/init", init)
                    reply = await connection.request("POST", "/run", b'{"value":{"name":"x"}}')
                    samples.append((time.perf_counter() - began) * 1000)
                    assert reply.status == 200, reply.body
                    await connection.close()
                    await driver.destroy(sandbox)
            finally:
                await driver.remove_orphans()
    finally:
        await docker.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activations", type=int, default=1000)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--round-trips", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wl-bench-", dir="/tmp") as tmp:
        data_dir = Path(tmp) / "data"
        ServedWhisklet(data_dir, env=LIMITS).start().stop()  # first start: image check, guest namespace
        ready_s = time_to_ready(data_dir)
        print(f"serve to ready (image present, median of 3): {ready_s:.2f} s", flush=True)

        served = ServedWhisklet(data_dir, env={**LIMITS, "WHISKLET_POOL_MIN_PREWARM": "4"}).start()
        try:
            time.sleep(5)
            idle_mb = rss_mb(served.process.pid)
            print(f"gateway RSS idle: {idle_mb:.1f} MB", flush=True)
            latency = sequential_latency(served, args.sequential, pace_s=0.4)
            print(f"blocking result=true hello, sequential, warm pool (n={len(latency)}): "
                  f"p50 {percentile(latency, 50):.1f} ms, p99 {percentile(latency, 99):.1f} ms", flush=True)
            per_s, failures = asyncio.run(sustained_rate(served, args.activations))
            after_mb = rss_mb(served.process.pid)
            print(f"pool sustained {per_s:.2f} containers/s over {args.activations} activations "
                  f"({failures} failed); gateway RSS after them: {after_mb:.1f} MB", flush=True)
        finally:
            served.stop()

    trips = asyncio.run(socket_round_trips(args.round_trips))
    print(f"/init+/run over the Unix socket alone (n={len(trips)}): "
          f"p50 {percentile(trips, 50):.2f} ms, p99 {percentile(trips, 99):.2f} ms", flush=True)
    ceiling = asyncio.run(docker_churn_rate())
    print(f"raw Docker create+start+remove: {ceiling.per_s:.2f} containers/s "
          f"({ceiling.parallel} in parallel); pool/ceiling = {per_s / ceiling.per_s:.2f}", flush=True)


if __name__ == "__main__":
    main()
