"""The one edge where aiodocker's and aiohttp's errors become the pool's own (`SandboxError`, `EngineUnavailable`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiodocker
import aiohttp

from pool.sandbox.driver import EngineUnavailable, SandboxError


@contextlib.contextmanager
def engine_errors(doing: str) -> Iterator[None]:
    """Turn aiodocker's and aiohttp's errors raised while `doing` into the driver's own."""
    try:
        yield
    except aiodocker.DockerError as exc:
        if exc.status == 900:
            raise EngineUnavailable(f"cannot reach the Docker engine while {doing}: {exc.message}") from exc
        raise SandboxError(f"{doing} failed: [{exc.status}] {exc.message}") from exc
    except aiohttp.ClientConnectionError as exc:
        raise EngineUnavailable(f"lost the Docker engine while {doing}: {exc!r}") from exc
    except aiohttp.ClientError as exc:
        raise SandboxError(f"{doing} failed: {exc!r}") from exc
