"""Choosing the sandbox driver (`pool.driver`: sandbox, docker or auto) and opening it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pool.runtime.nodejs.files import API_SOCKET_NAME
from pool.sandbox.docker.engine import DockerSettings, docker_driver
from pool.sandbox.driver import SandboxDriver, SandboxError
from pool.sandbox.hostdir import make_api_dir
from pool.sandbox.namespace.host import missing, namespace_driver

log = logging.getLogger("whisklet.pool")

DRIVERS = ("auto", "sandbox", "docker")


class DriverUnsupported(SandboxError):
    """The configured driver cannot run on this host; the message says what is missing and the fix."""


@dataclass(frozen=True, slots=True)
class OpenDriver:
    """A driver in use and its name (`sandbox` or `docker`), for the ready line and `GET /api/v1`, and
    where the gateway serves its inside API socket (`api_socket`): the driver binds that socket's
    directory into every sandbox whose egress allows the API."""

    name: str
    driver: SandboxDriver
    api_socket: str = ""


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
                      run_dir: str, instance: str, egress_deny: tuple[str, ...] = ()) -> AsyncIterator[OpenDriver]:
    """The driver `pool.driver` names, ready, closed on exit. Docker's host directories live in
    `run_dir`; the namespace driver's in `/var/lib/whisklet/<scope of data_dir>/run/` (see its host.py)."""
    name = await choose(requested)
    if name == "sandbox":
        async with namespace_driver(settings, data_dir, egress_deny=egress_deny) as namespace:
            yield OpenDriver(name, namespace, str(namespace.api_dir / API_SOCKET_NAME))
    else:
        api_dir = Path(run_dir) / "api"
        await asyncio.to_thread(make_api_dir, api_dir)
        async with docker_driver(settings, run_dir, instance, api_dir=api_dir) as docker:
            yield OpenDriver(name, docker, str(api_dir / API_SOCKET_NAME))
