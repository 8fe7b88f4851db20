"""The machine's own limit for fresh-container activations: raw Docker create+start+remove.

Uses the same image and container settings as Whisklet's driver, minus waiting for the runner, so
it is the ceiling that no fresh-container platform on this engine can beat.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass

import aiodocker

from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.docker.driver import DockerDriver
from pool.sandbox.docker.image import ensure_images

DOCKER_CHURN = "raw Docker churn"
BARE_NODE = "bare-Node spawn rate (the machine's limit)"


@dataclass(frozen=True, slots=True)
class Ceiling:
    """A fresh-sandbox rate measured in this run: `cycles` cycles, `parallel` at a time, in `seconds`."""

    cycles: int
    parallel: int
    seconds: float
    name: str = DOCKER_CHURN  # what was measured, as the report names the ceiling

    @property
    def per_s(self) -> float:
        return self.cycles / self.seconds


async def docker_churn_rate(containers: int = 24, parallel: int = 3, memory_mb: int = 256) -> Ceiling:
    """Create, start and force-remove `containers` hardened containers, `parallel` at a time."""
    docker = aiodocker.Docker()
    try:
        image = (await ensure_images(docker))[DEFAULT_KIND]
        with tempfile.TemporaryDirectory(prefix="whisklet-ceiling-") as run_dir:
            driver = DockerDriver(docker, {DEFAULT_KIND: image}, run_dir, "ceiling", scope="ceiling")
            config = driver._config(memory_mb, driver._run_dir / "unused", image)  # the same hardened settings
            config["HostConfig"]["Binds"] = []
            config["Labels"]["whisklet.sandbox"] = "ceiling"
            slots = asyncio.Semaphore(parallel)

            async def churn(n: int) -> None:
                async with slots:
                    container = await docker.containers.create(config, name=f"whisklet-ceiling-{n}-{time.monotonic_ns()}")
                    await container.start()
                    await container.delete(force=True)

            started = time.monotonic()
            await asyncio.gather(*(churn(n) for n in range(containers)))
            return Ceiling(containers, parallel, time.monotonic() - started)
    finally:
        await docker.close()


if __name__ == "__main__":
    result = asyncio.run(docker_churn_rate())
    print(f"raw Docker create+start+remove: {result.per_s:.2f} containers/s "
          f"({result.cycles} containers, {result.parallel} in parallel, {result.seconds:.1f} s)")
