"""How late a Docker container's output reaches the gateway: the engine's attach stream against a FIFO.

    python -m bench.docker_output [--lines 200] [--pace 0.15] [--containers 2] [--churn 0]

A profiling tool, not part of Whisklet. Starts `--containers` containers of the runtime image one after
the other (hardened as the driver's: no network, read-only root, uid 1000, no log driver), each running
a tiny Node.js script instead of the runner: every `--pace` seconds it writes its
`process.hrtime.bigint()` (CLOCK_MONOTONIC, which containers share with the host) as one line on its
stdout, which reaches this process as the Docker driver's does (runner -> containerd-shim's pipe and
FIFO -> dockerd -> the attach stream, read with aiodocker), and the same on a FIFO this process made in
the container's bind-mounted host directory and opened before the container started (runner -> pipe
buffer -> this process, as the namespace driver's pipes). The two writes alternate which goes first. It
prints each path's delay (this process's read minus the script's write) as p50/p90/p99/max. With
`--churn N`, N loops create, start and force-remove other containers of the image meanwhile, one at a
time each, as the pool's refills and destroys keep the engine busy during a paced warm load. Removes
only the containers it created. Loopback and Unix sockets only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiodocker

from pool.runtime.nodejs.files import RUNNER_GID, RUNNER_UID
from pool.sandbox.docker.image import ensure_images

SCRIPT = r"""
const fs = require('fs');
const fifo = fs.openSync('/run/whisklet/out', 'w');
const lines = Number(process.env.LINES), paceMs = Number(process.env.PACE_MS);
let n = 0;
function viaStdout() { process.stdout.write(`${process.hrtime.bigint()}\n`); }
function viaFifo() { fs.writeSync(fifo, `${process.hrtime.bigint()}\n`); }
function tick() {
  if (n % 2) { viaStdout(); viaFifo(); } else { viaFifo(); viaStdout(); }
  if (++n < lines) setTimeout(tick, paceMs); else setTimeout(() => process.exit(0), 300);
}
setTimeout(tick, 300);
"""


def _delays(arrivals: list[tuple[int, bytes]]) -> list[float]:
    """ms between each line's write (its content) and its read; a line split across reads counts at its end."""
    delays, pending = [], b""
    for at, data in arrivals:
        pending += data
        *lines, pending = pending.split(b"\n")
        delays.extend((at - int(line)) / 1e6 for line in lines if line.strip())
    return delays


async def _one(docker: aiodocker.Docker, image: str, lines: int, pace_s: float, work: Path) -> tuple[list[float], list[float]]:
    host_dir = work / f"c{time.monotonic_ns()}"
    host_dir.mkdir(mode=0o700)
    os.chown(host_dir, RUNNER_UID, RUNNER_GID)
    fifo = host_dir / "out"
    os.mkfifo(fifo, 0o600)
    os.chown(fifo, RUNNER_UID, RUNNER_GID)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    config = {
        "Image": image,
        "Cmd": ["node", "-e", SCRIPT],
        "Env": [f"LINES={lines}", f"PACE_MS={round(pace_s * 1000)}"],
        "User": f"{RUNNER_UID}:{RUNNER_GID}",
        "Labels": {"whisklet.bench": "docker_output"},
        "HostConfig": {"NetworkMode": "none", "ReadonlyRootfs": True, "CapDrop": ["ALL"],
                       "SecurityOpt": ["no-new-privileges"], "Binds": [f"{host_dir}:/run/whisklet"],
                       "LogConfig": {"Type": "none", "Config": {}}},
    }
    container = await docker.containers.create(config, name=f"whisklet-bench-output-{os.getpid()}-{time.monotonic_ns()}")
    attached: list[tuple[int, bytes]] = []
    piped: list[tuple[int, bytes]] = []
    loop = asyncio.get_running_loop()
    fifo_done = loop.create_future()

    def readable() -> None:
        data = os.read(fd, 1 << 16)
        if data:
            piped.append((time.perf_counter_ns(), data))
        elif not fifo_done.done():
            loop.remove_reader(fd)
            fifo_done.set_result(None)

    try:
        stream = container.attach(stdout=True, stderr=True, logs=False)
        async with stream:
            loop.add_reader(fd, readable)
            await container.start()
            while (message := await stream.read_out()) is not None:
                attached.append((time.perf_counter_ns(), bytes(message.data)))
            await asyncio.wait_for(fifo_done, 10)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
        await container.delete(force=True)
    return _delays(attached), _delays(piped)


def _summary(name: str, delays: list[float]) -> str:
    ordered = sorted(delays)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (f"{name:<34} n={len(ordered):4d}  p50 {statistics.median(ordered):7.3f} ms  p90 {at(0.9):7.3f}  "
            f"p99 {at(0.99):7.3f}  max {ordered[-1]:7.3f}")


async def _churn(docker: aiodocker.Docker, image: str, stop: asyncio.Event, cycles: list[int]) -> None:
    """Create, start and force-remove containers one after the other until `stop` (at most 1,000)."""
    config = {"Image": image, "Cmd": ["node", "-e", "setTimeout(() => {}, 60000)"], "User": f"{RUNNER_UID}:{RUNNER_GID}",
              "Labels": {"whisklet.bench": "docker_output"},
              "HostConfig": {"NetworkMode": "none", "LogConfig": {"Type": "none", "Config": {}}}}
    while not stop.is_set() and cycles[0] < 1000:
        container = await docker.containers.create(config, name=f"whisklet-bench-churn-{os.getpid()}-{time.monotonic_ns()}")
        try:
            await container.start()
        finally:
            await container.delete(force=True)
        cycles[0] += 1


async def main_async(lines: int, pace_s: float, containers: int, churn: int) -> None:
    docker = aiodocker.Docker()
    try:
        image = next(iter((await ensure_images(docker)).values()))
        attached: list[float] = []
        piped: list[float] = []
        stop, cycles = asyncio.Event(), [0]
        churning = [asyncio.create_task(_churn(docker, image, stop, cycles)) for _ in range(churn)]
        try:
            with tempfile.TemporaryDirectory(prefix="wl-output-", dir="/tmp") as tmp:
                for _ in range(containers):
                    a, p = await _one(docker, image, lines, pace_s, Path(tmp))
                    attached += a
                    piped += p
        finally:
            stop.set()
            await asyncio.gather(*churning)
        print(f"load average {os.getloadavg()[0]:.1f}; {lines} lines x {containers} containers, {pace_s} s apart; "
              f"{churn} churn loops, {cycles[0]} containers created and removed meanwhile")
        print(_summary("attach stream (dockerd)", attached))
        print(_summary("FIFO in the host directory", piped))
    finally:
        await docker.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--pace", type=float, default=0.15)
    parser.add_argument("--containers", type=int, default=2)
    parser.add_argument("--churn", type=int, default=0, help="loops creating and removing other containers meanwhile")
    args = parser.parse_args()
    asyncio.run(main_async(args.lines, args.pace, args.containers, args.churn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
