"""Core figures of one Whisklet on this machine, measured side by side in one run.

    python -m bench.core [--rounds 100] [--pace 0.3] [--driver docker|sandbox|auto] [--sustained 0]

1. `whisklet serve` to its ready line, with the runtime image present (median of 3 starts).
2. The warm paths, interleaved round by round so that every ratio compares samples taken under the
   same load: the bare `/init` + `/run` round trips on a prewarmed runner of the same driver (the
   bench's own, outside the gateway), once with `/run` written after `/init`'s reply and once pipelined
   right behind `/init` as the gateway sends them, a blocking `result=true` hello world through HTTP,
   a non-blocking invoke (its 202), a trigger fire through a rule (fire sent -> the rule's activation
   starting), and a `.json` web action. p50/p99 of each and its ratio to the bare round trips (p50/pipe:
   to the pipelined ones).
   Requests go over one kept-alive HTTP/1.1 connection each, written by hand so that the client's
   own cost stays out of the figures.
3. The gateway's CPU per activation of each kind, from its process's own CPU time (`/proc/<pid>/stat`)
   over `--cpu-activations` activations, the pool's refills included and the idle rate taken off.
4. The gateway's resident memory idle and after the run; with `--sustained N`, containers per second
   the pool sustains under a backlog next to raw Docker create+start+remove (`bench.ceiling`).
Bounded in requests and time, loopback only; every process and sandbox it starts is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.serving import ServedWhisklet
from pool.runner.client import RunnerConnection
from pool.sandbox.driver import Sandbox, SandboxDriver, SandboxError

HELLO = "function main(params) { return { msg: 'hello ' + (params.name || 'world') }; }"
LIMITS = {
    "WHISKLET_LIMITS_INVOCATIONS_PER_MINUTE": "1000000",
    "WHISKLET_LIMITS_CONCURRENT_INVOCATIONS": "10000",
    "WHISKLET_LIMITS_FIRES_PER_MINUTE": "1000000",
}
NS = "/api/v1/namespaces/_"
ACTION = "bench-hello"
WARM_UP_ROUNDS = 5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU time the process has used, its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def time_to_ready(data_dir: Path, env: dict[str, str], starts: int = 3) -> float:
    samples = []
    for _ in range(starts):
        served = ServedWhisklet(data_dir, env=env)
        began = time.monotonic()
        served.start()
        samples.append(time.monotonic() - began)
        served.stop()
    return statistics.median(samples)


class Http:
    """One kept-alive HTTP/1.1 connection to the gateway; replies must carry a Content-Length."""

    def __init__(self, port: int, auth: tuple[str, str] | None) -> None:
        self._port = port
        self._auth = b""
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode())
            self._auth = b"Authorization: Basic " + token + b"\r\n"
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, dict[bytes, bytes], bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self._port)
        reader, writer = self._streams
        data = b"" if body is None else json.dumps(body).encode()
        kind = b"Content-Type: application/json\r\n" if data else b""
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n".encode()
            + kind + self._auth + b"\r\n" + data
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        reply = await reader.readexactly(int(headers[b"content-length"]))
        return int(lines[0].split()[1]), headers, reply

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            with contextlib.suppress(OSError):
                await self._streams[1].wait_closed()


@contextlib.asynccontextmanager
async def bench_driver(name: str, run_dir: str, data_dir: str) -> AsyncIterator[SandboxDriver]:
    """The driver `--driver` names, for the bare round trips, the same one the gateway is given (and the
    runtime image it is given: `WHISKLET_DOCKER_REPOSITORY`, so a branch's changed runner never replaces
    another checkout's image)."""
    from pool.sandbox.docker.engine import DockerSettings

    settings = DockerSettings(repository=os.environ.get("WHISKLET_DOCKER_REPOSITORY", DockerSettings().repository))

    try:
        from pool.sandbox.factory import open_driver  # type: ignore[import-not-found]
    except ImportError:  # a checkout with the Docker driver only
        if name not in ("docker", "auto"):
            raise SystemExit(f"--driver {name}: this checkout has only the Docker driver") from None
        from pool.sandbox.docker.engine import docker_driver

        async with docker_driver(settings, run_dir, "bench-bare") as driver:
            yield driver
        return
    async with open_driver(name, settings, data_dir, run_dir, "bench-bare") as opened:
        yield opened.driver


@dataclass
class Samples:
    """Milliseconds per kind, and what each warm path's activation id was (to find cold starts)."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, value_ms: float, activation_id: str | None = None) -> None:
        self.ms.setdefault(kind, []).append(value_ms)
        if activation_id is not None:
            self.ids.setdefault(kind, []).append(activation_id)


class BareRunners:
    """Prewarmed runners of the bench's own, `ahead` of them; as in the gateway's pool, a used one is
    destroyed and replaced once its round trips are measured, not during them."""

    def __init__(self, driver: SandboxDriver, ahead: int = 2) -> None:
        self._driver = driver
        self._ready: asyncio.Queue[Sandbox] = asyncio.Queue(maxsize=ahead)
        self._fillers = {asyncio.create_task(self._fill()) for _ in range(ahead)}
        self._destroys: set[asyncio.Task[None]] = set()

    async def _fill(self, attempts: int = 3) -> None:
        """One sandbox into the ready queue; a failed creation (a busy shared engine fails some) is retried."""
        for attempt in range(attempts):
            creating = asyncio.ensure_future(self._driver.create(256))
            try:
                sandbox = await asyncio.shield(creating)
            except asyncio.CancelledError:  # a sandbox half made is still destroyed
                with contextlib.suppress(Exception):
                    await self._driver.destroy(await creating)
                raise
            except SandboxError as error:
                print(f"bench: creating a bare runner failed ({error}); retrying", flush=True)
                if attempt == attempts - 1:
                    raise
                continue
            self._ready.put_nowait(sandbox)  # never full: one filler per free place
            return

    async def round_trips_ms(self, pipelined: bool = False) -> float:
        """`/init` + `/run` of hello world on one prewarmed runner, connected beforehand: `/run` written
        once `/init`'s reply is read, or, `pipelined`, right behind `/init` as the gateway sends it."""
        async with asyncio.timeout(60):  # a driver that cannot create sandboxes ends the bench
            sandbox = await self._ready.get()
        try:
            connection = await RunnerConnection.open(sandbox.socket_path)
            init = json.dumps({"value": {"name": "hello", "main": "main", "binary": False, "code": HELLO}}).encode()
            run = b'{"value":{"name":"x"}}'
            began = time.perf_counter()
            if pipelined:
                connection.send("POST", "/init", init)
                connection.send("POST", "/run", run)
                await connection.reply("POST", "/init")
                reply = await connection.reply("POST", "/run")
            else:
                await connection.request("POST", "/init", init)
                reply = await connection.request("POST", "/run", run)
            elapsed_ms = (time.perf_counter() - began) * 1000
            assert reply.status == 200, reply.body
            await connection.close()
        finally:
            task = asyncio.create_task(self._driver.destroy(sandbox))
            self._destroys.add(task)
            task.add_done_callback(self._destroys.discard)
            filler = asyncio.create_task(self._fill())
            self._fillers.add(filler)
            filler.add_done_callback(self._fillers.discard)
        return elapsed_ms

    async def close(self) -> None:
        for filler in list(self._fillers):
            filler.cancel()
        await asyncio.gather(*self._fillers, return_exceptions=True)
        while not self._ready.empty():
            self._destroys.add(asyncio.create_task(self._driver.destroy(self._ready.get_nowait())))
        await asyncio.gather(*self._destroys, return_exceptions=True)


async def socket_round_trips(count: int, driver_name: str = "docker") -> list[float]:
    """`/init` + `/run` of hello world on `count` prewarmed runners of the driver, in ms."""
    with tempfile.TemporaryDirectory(prefix="wl-rt-", dir="/tmp") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        async with bench_driver(driver_name, str(run_dir), str(Path(tmp) / "data")) as driver:
            bare = BareRunners(driver)
            try:
                return [await bare.round_trips_ms() for _ in range(count)]
            finally:
                await bare.close()


async def set_up(wsk: Http) -> None:
    action = {"exec": {"kind": "nodejs:default", "code": HELLO}, "annotations": [{"key": "web-export", "value": True}]}
    for path, body in (
        (f"{NS}/actions/{ACTION}?overwrite=true", action),
        (f"{NS}/triggers/bench-tick?overwrite=true", {}),
        (f"{NS}/rules/bench-tick-rule?overwrite=true", {"trigger": "/_/bench-tick", "action": f"/_/{ACTION}"}),
    ):
        status, _, reply = await wsk.request("PUT", path, body)
        assert status == 200, reply


async def timed(call: Awaitable[tuple[int, dict[bytes, bytes], bytes]], expect: int) -> tuple[float, dict[bytes, bytes], bytes]:
    began = time.perf_counter()
    status, headers, body = await call
    elapsed_ms = (time.perf_counter() - began) * 1000
    assert status == expect, (status, body)
    return elapsed_ms, headers, body


async def warm_paths(served: ServedWhisklet, bare: BareRunners, rounds: int, pace_s: float) -> Samples:
    """Each round: bare round trips, blocking, non-blocking, trigger fire, web action; `pace_s` apart."""
    samples = Samples()
    wsk, anonymous = Http(served.port, served.auth), Http(served.port, None)
    fired: list[tuple[int, str]] = []
    try:
        await set_up(wsk)
        for n in range(rounds + WARM_UP_ROUNDS):
            keep = n >= WARM_UP_ROUNDS
            bare_ms = await bare.round_trips_ms()
            await asyncio.sleep(pace_s)
            pipelined_ms = await bare.round_trips_ms(pipelined=True)
            await asyncio.sleep(pace_s)
            blocking = await timed(wsk.request("POST", f"{NS}/actions/{ACTION}?blocking=true&result=true", {"name": str(n)}), 200)
            await asyncio.sleep(pace_s)
            accepted = await timed(wsk.request("POST", f"{NS}/actions/{ACTION}", {"name": str(n)}), 202)
            await asyncio.sleep(pace_s)
            sent_ms = time.time_ns() // 1_000_000
            fire = await timed(wsk.request("POST", f"{NS}/triggers/bench-tick", {"n": n}), 202)
            await asyncio.sleep(pace_s)
            web = await timed(anonymous.request("GET", f"/api/v1/web/guest/default/{ACTION}.json?name={n}"), 200)
            assert json.loads(web[2]) == {"msg": f"hello {n}"}, web[2]
            await asyncio.sleep(pace_s)
            if keep:
                samples.add("bare", bare_ms)
                samples.add("bare pipelined", pipelined_ms)
                samples.add("blocking", blocking[0], blocking[1][b"x-openwhisk-activation-id"].decode())
                samples.add("non-blocking 202", accepted[0], json.loads(accepted[2])["activationId"])
                samples.add("web .json", web[0], web[1][b"x-openwhisk-activation-id"].decode())
                fired.append((sent_ms, json.loads(fire[2])["activationId"]))
        for sent_ms, trigger_id in fired:
            trigger = await record(wsk, trigger_id)
            action_id = json.loads(trigger["logs"][0])["activationId"]
            action = await record(wsk, action_id)
            samples.add("fire -> rule's activation start", action["start"] - sent_ms, action_id)
    finally:
        await wsk.close()
        await anonymous.close()
    return samples


async def invoke_many(
    served: ServedWhisklet, count: int, in_flight: int, action: str = ACTION
) -> tuple[float, list[float], list[str], int]:
    """`count` blocking invokes of `action` (hello world), `in_flight` at a time: (seconds, latencies ms, ids, failures)."""
    clients = [Http(served.port, served.auth) for _ in range(in_flight)]
    latencies: list[float] = []
    ids: list[str] = []
    failures = 0

    async def worker(client: Http, share: range) -> None:
        nonlocal failures
        for n in share:
            began = time.monotonic()
            status, headers, _ = await client.request(
                "POST", f"{NS}/actions/{action}?blocking=true&result=true", {"name": str(n)})
            latencies.append((time.monotonic() - began) * 1000)
            failures += status != 200
            if activation_id := headers.get(b"x-openwhisk-activation-id"):
                ids.append(activation_id.decode())

    began = time.monotonic()
    try:
        await asyncio.gather(*(worker(c, range(i, count, in_flight)) for i, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.close()
    return time.monotonic() - began, latencies, ids, failures


async def sustained_rate(served: ServedWhisklet, count: int, in_flight: int = 8) -> tuple[float, int]:
    """Run `count` blocking activations, `in_flight` at a time; return (activations/s, failures).

    Every activation consumes a fresh sandbox, so this is the sandbox rate the pool sustains.
    """
    seconds, _, _, failures = await invoke_many(served, count, in_flight)
    return count / seconds, failures


async def record(wsk: Http, activation_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, _, body = await wsk.request("GET", f"{NS}/activations/{activation_id}")
        if status == 200:
            found: dict[str, Any] = json.loads(body)
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"no record of {activation_id} within {timeout_s} s")
        await asyncio.sleep(0.05)


async def cold_starts(served: ServedWhisklet, samples: Samples) -> dict[str, int]:
    wsk = Http(served.port, served.auth)
    counts = {}
    try:
        for kind, ids in samples.ids.items():
            records = [await record(wsk, activation_id) for activation_id in ids]
            counts[kind] = sum(any(a["key"] == "coldStart" and a["value"] for a in r["annotations"]) for r in records)
    finally:
        await wsk.close()
    return counts


async def cpu_per_activation_us(served: ServedWhisklet, count: int, pace_s: float, settle_s: float) -> dict[str, float]:
    """Gateway CPU µs per activation of each kind, the pool's refills included, the idle rate taken off."""
    assert served.process is not None
    pid = served.process.pid
    wsk, anonymous = Http(served.port, served.auth), Http(served.port, None)
    kinds: dict[str, Callable[[int], Awaitable[object]]] = {
        "blocking": lambda n: wsk.request("POST", f"{NS}/actions/{ACTION}?blocking=true&result=true", {"name": str(n)}),
        "non-blocking 202": lambda n: wsk.request("POST", f"{NS}/actions/{ACTION}", {"name": str(n)}),
        "fire -> rule's activation start": lambda n: wsk.request("POST", f"{NS}/triggers/bench-tick", {"n": n}),
        "web .json": lambda n: anonymous.request("GET", f"/api/v1/web/guest/default/{ACTION}.json?name={n}"),
    }
    result = {}
    try:
        began, idle_cpu = time.monotonic(), cpu_s(pid)
        await asyncio.sleep(settle_s)
        idle_rate = (cpu_s(pid) - idle_cpu) / (time.monotonic() - began)
        for kind, call in kinds.items():
            began, before = time.monotonic(), cpu_s(pid)
            for n in range(count):
                await call(n)
                await asyncio.sleep(pace_s)
            await asyncio.sleep(settle_s)  # the last activations end and the pool refills
            used = cpu_s(pid) - before - idle_rate * (time.monotonic() - began)
            result[kind] = used / count * 1e6
    finally:
        await wsk.close()
        await anonymous.close()
    return result


async def measure(
    served: ServedWhisklet, args: argparse.Namespace, run_dir: str, data_dir: str
) -> tuple[Samples, dict[str, int], dict[str, float]]:
    async with bench_driver(args.driver, run_dir, data_dir) as driver:
        bare = BareRunners(driver)
        try:
            samples = await warm_paths(served, bare, args.rounds, args.pace)
        finally:
            await bare.close()
    cold = await cold_starts(served, samples)
    cpu = await cpu_per_activation_us(served, args.cpu_activations, args.pace * 4, settle_s=3.0)
    return samples, cold, cpu


def report(samples: Samples, cold: dict[str, int], cpu: dict[str, float]) -> None:
    """One row per path: p50/p99 and their ratios to the bare round trips, `/run` written after `/init`'s
    reply (bare) and right behind `/init` as the gateway sends it (p50/pipe)."""
    bare, piped = samples.ms["bare"], samples.ms["bare pipelined"]
    bare50, bare99, piped50 = percentile(bare, 50), percentile(bare, 99), percentile(piped, 50)
    print(f"{'path (n per kind)':<36} {'p50 ms':>8} {'p99 ms':>8} {'p50/bare':>9} {'p99/bare':>9} {'p50/pipe':>9} "
          f"{'cold':>5} {'CPU us/act':>10}")
    for kind, values in samples.ms.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        name = {"bare": "bare /init+/run", "bare pipelined": "bare /init+/run pipelined"}.get(kind, kind)
        if kind in ("bare", "bare pipelined"):
            name += f" (n={len(values)})"
        print(f"{name:<36} {p50:8.2f} {p99:8.2f} {p50 / bare50:9.2f} {p99 / bare99:9.2f} {p50 / piped50:9.2f} "
              f"{cold.get(kind, '-'):>5} {f'{cpu[kind]:.0f}' if kind in cpu else '-':>10}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100, help="interleaved rounds, after 5 warm-up ones")
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between requests (keeps the pool warm)")
    parser.add_argument("--driver", default="docker", help="pool.driver for the gateway and the bare round trips")
    parser.add_argument("--cpu-activations", type=int, default=40, help="activations of each kind for the CPU figure")
    parser.add_argument("--ready-starts", type=int, default=3, help="starts for the time to ready (0: skip)")
    parser.add_argument("--sustained", type=int, default=0, help="blocking activations for the sustained rate (0: skip)")
    args = parser.parse_args()
    env = {**LIMITS, "WHISKLET_POOL_MIN_PREWARM": "4"}
    if args.driver != "docker":
        env["WHISKLET_POOL_DRIVER"] = args.driver

    with tempfile.TemporaryDirectory(prefix="wl-bench-", dir="/tmp") as tmp:
        data_dir = Path(tmp) / "data"
        ServedWhisklet(data_dir, env=env).start().stop()  # first start: image check, guest namespace
        if args.ready_starts:
            print(f"serve to ready (image present, median of {args.ready_starts}): "
                  f"{time_to_ready(data_dir, env, args.ready_starts):.2f} s", flush=True)
        served = ServedWhisklet(data_dir, env=env).start()
        try:
            time.sleep(5)  # the pool fills
            assert served.process is not None
            idle_mb = rss_mb(served.process.pid)
            run_dir = Path(tmp) / "bare"
            run_dir.mkdir()
            samples, cold, cpu = asyncio.run(measure(served, args, str(run_dir), str(Path(tmp) / "bare-data")))
            print(f"driver {args.driver}; load average {os.getloadavg()[0]:.1f}; gateway RSS idle "
                  f"{idle_mb:.1f} MB, after the run {rss_mb(served.process.pid):.1f} MB", flush=True)
            report(samples, cold, cpu)
            if args.sustained:
                from bench.ceiling import docker_churn_rate

                per_s, failures = asyncio.run(sustained_rate(served, args.sustained))
                ceiling = asyncio.run(docker_churn_rate())
                print(f"pool sustained {per_s:.2f} containers/s over {args.sustained} activations ({failures} failed); "
                      f"raw Docker {ceiling.per_s:.2f}/s ({ceiling.parallel} in parallel): {per_s / ceiling.per_s:.2f}")
        finally:
            served.stop()


if __name__ == "__main__":
    main()
