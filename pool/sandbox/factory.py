"""Choosing the sandbox driver (`pool.driver`: sandbox, docker or auto) and opening it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pool.sandbox.docker.engine import DockerSettings, docker_driver
from pool.sandbox.driver import SandboxDriver, SandboxError
from pool.sandbox.namespace.host import missing, namespace_driver

log = logging.getLogger("whisklet.pool")

DRIVERS = ("auto", "sandbox", "docker")


class DriverUnsupported(SandboxError):
    """The configured driver cannot run on this host; the message says what is missing and the fix."""


@dataclass(frozen=True, slots=True)
class OpenDriver:
    """A driver in use and its name (`sandbox` or `docker`), for the ready line and `GET /api/v1`."""

    name: str
    driver: SandboxDriver


async def choose(requested: str) -> str:
    """`sandbox` or `docker` for `pool.driver`; `auto` logs why it chose. Raises `DriverUnsupported`
    when `sandbox` was asked for and the host cannot run it."""
    if requested == "docker":
        return "docker"
    problems = await asyncio.to_thread(missing)
    if requested == "sandbox" and problems:
        raise DriverUnsupported("pool.driver = \"sandbox\" cannot run on this host:\n  - " + "\n  - ".join(problems))
    if requested == "auto":
        if problems:
            log.info("pool.driver = auto: using docker, since the namespace sandbox cannot run here: %s",
                     "; ".join(problems))
            return "docker"
        log.info("pool.driver = auto: using sandbox (bubblewrap, cgroups and seccomp are available)")
    return "sandbox"


@asynccontextmanager
async def open_driver(requested: str, settings: DockerSettings, data_dir: str | os.PathLike[str],
                      run_dir: str, instance: str) -> AsyncIterator[OpenDriver]:
    """The driver `pool.driver` names, ready, closed on exit. Docker's host directories live in
    `run_dir`; the namespace driver's in `/var/lib/whisklet/<scope of data_dir>/run/` (see its host.py)."""
    name = await choose(requested)
    if name == "sandbox":
        async with namespace_driver(settings, data_dir) as namespace:
            yield OpenDriver(name, namespace)
    else:
        async with docker_driver(settings, run_dir, instance) as docker:
            yield OpenDriver(name, docker)
