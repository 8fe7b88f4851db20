"""Opening the Docker engine for the pool: one aiodocker session, the runtime image, the driver."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiodocker
from msgspec import Struct

from pool.sandbox.docker.driver import DockerDriver
from pool.sandbox.docker.image import ensure_images
from pool.sandbox.driver import EngineUnavailable, SandboxDriver


class DockerSettings(Struct, frozen=True, forbid_unknown_fields=True):
    """How to reach the engine and how to harden containers (the `[docker]` configuration)."""

    url: str = ""  # "" = DOCKER_HOST or the default socket
    node_binary: str = "/usr/bin/node"
    pids_limit: int = 1024
    nofile: int = 1024
    tmpfs_mb: int = 64
    run_dir_mb: int = 16
    repository: str = "whisklet-nodejs"  # the runtime image's name; its tag is the Node.js major


def _session(url: str) -> aiodocker.Docker:
    return aiodocker.Docker(url=url or os.environ.get("DOCKER_HOST") or None)


@asynccontextmanager
async def docker_driver(settings: DockerSettings, run_dir: str, instance: str,
                        api_dir: Path | None = None) -> AsyncIterator[SandboxDriver]:
    """A ready Docker driver, its runtime image built if missing; closed (session too) on exit.

    Containers are scoped to `run_dir`: orphan clean-up removes only those an earlier process with
    the same run directory left behind, never another Whisklet's. Raises `EngineUnavailable` (a
    `SandboxError`) when the engine cannot be reached.
    """
    docker = _session(settings.url)
    try:
        images = await ensure_images(docker, repository=settings.repository)
        driver = DockerDriver(
            docker,
            images,
            run_dir,
            instance,
            pids_limit=settings.pids_limit,
            nofile=settings.nofile,
            tmp_size_mb=settings.tmpfs_mb,
            run_dir_mb=settings.run_dir_mb,
            scope=hashlib.sha256(os.path.abspath(run_dir).encode()).hexdigest()[:16],
            api_dir=api_dir,
        )
        try:
            yield driver
        finally:
            await driver.close()
    finally:
        await docker.close()


async def build_runtime_image(settings: DockerSettings, *, force: bool = False) -> list[str]:
    """Build each kind's runtime image when it is missing or stale (always with `force`); return their tags."""
    docker = _session(settings.url)
    try:
        return list((await ensure_images(docker, repository=settings.repository, force=force)).values())
    finally:
        await docker.close()



__all__ = ["DockerSettings", "EngineUnavailable", "build_runtime_image", "docker_driver"]
