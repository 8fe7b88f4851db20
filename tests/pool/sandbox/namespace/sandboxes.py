"""Opening each sandbox driver for a test, and running code in a sandbox's runner."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiodocker
import pytest

from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.docker.driver import DockerDriver
from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.docker.image import ensure_images
from pool.sandbox.driver import SandboxDriver
from pool.sandbox.namespace.cgroups import CGROUP_ROOT, PARENT
from pool.sandbox.namespace.driver import NamespaceDriver
from pool.sandbox.namespace.host import missing, namespace_driver, scope_of

DRIVERS = ("sandbox", "docker")


@pytest.fixture
async def home() -> AsyncIterator[tuple[Path, Path]]:
    """A data directory and host root of the test's own (removed afterwards)."""
    async with temporary_home() as paths:
        yield paths


@pytest.fixture
async def driver(home: tuple[Path, Path]) -> AsyncIterator[NamespaceDriver]:
    """A namespace driver on `home` (a test module imports both fixtures to use it)."""
    async with opened("sandbox", *home) as opened_driver:
        assert isinstance(opened_driver, NamespaceDriver)
        yield opened_driver


def namespace_missing() -> list[str]:
    return missing()


@asynccontextmanager
async def temporary_home() -> AsyncIterator[tuple[Path, Path]]:
    """A data directory and a host root (0711, like /var/lib/whisklet), removed afterwards.

    Not pytest's tmp_path: a Unix socket path must stay under 108 bytes.
    """
    base = Path(tempfile.mkdtemp(prefix="wkn-"))
    base.chmod(0o711)
    try:
        yield base / "data", base / "host"
    finally:
        await asyncio.to_thread(shutil.rmtree, base, True)


@asynccontextmanager
async def opened(kind: str, data_dir: Path, host_root: Path, **settings: Any) -> AsyncIterator[SandboxDriver]:
    """The driver `kind` for `data_dir`; Docker's containers carry a label unique to the test."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "sandbox":
        async with namespace_driver(DockerSettings(**settings), data_dir, host_root) as namespace:
            yield namespace
        return
    docker = aiodocker.Docker()
    try:
        # `WHISKLET_DOCKER_REPOSITORY` as in test_driver.py: a checkout's images kept apart from another's
        repository = os.environ.get("WHISKLET_DOCKER_REPOSITORY", "whisklet-nodejs")
        image = (await ensure_images(docker, repository=repository))[DEFAULT_KIND]
        scope = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
        driver = DockerDriver(docker, {DEFAULT_KIND: image}, data_dir / "run", "test-" + secrets.token_hex(4), scope=scope,
                              pids_limit=settings.get("pids_limit", 1024))
        try:
            yield driver
        finally:
            await driver.close()
            leftovers = await docker.containers.list(
                all=True, filters=json.dumps({"label": [f"whisklet.sandbox={scope}"]}))
            for container in leftovers:
                await container.delete(force=True, v=True)
    finally:
        await docker.close()


def cgroup_dirs(data_dir: Path) -> list[Path]:
    """The namespace driver's sandbox cgroups for `data_dir`, in every hierarchy."""
    scope = scope_of(data_dir)
    found: list[Path] = []
    for hierarchy in ("memory", "pids", "cpuacct", "."):
        directory = CGROUP_ROOT / hierarchy / PARENT / scope
        if directory.is_dir():
            found += [entry for entry in directory.iterdir() if entry.is_dir()]
    return found


def host_dirs(driver: SandboxDriver, data_dir: Path, host_root: Path) -> list[Path]:
    run_dir = host_root / scope_of(data_dir) / "run" if isinstance(driver, NamespaceDriver) else data_dir / "run"
    return sorted(run_dir.glob("whisklet-*")) if run_dir.is_dir() else []


def pids_in(data_dir: Path) -> list[int]:
    """Every process in the namespace driver's cgroups for `data_dir`."""
    pids: list[int] = []
    for directory in cgroup_dirs(data_dir):
        procs = directory / "cgroup.procs"
        if procs.exists():
            pids += [int(line) for line in procs.read_text().split()]
    return pids


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
