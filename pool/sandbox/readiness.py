"""Readiness of a new sandbox: wait for its runner's socket, then require 200 from one warm-up `GET /health`.

Shared by both drivers. The socket is checked with `lstat` (a link to one is not a socket) and connected
to only before any tenant code has run in the sandbox; the warm-up reply is bounded all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from pool.runner.client import RunnerConnection, RunnerGone
from pool.sandbox.driver import SandboxError
from pool.sandbox.hostdir import is_socket

HEALTH_REPLY_BYTES = 1024

ExitCheck = Callable[[], Awaitable[str | None]]
"""Returns why the sandbox's runner exited (for the error message), or None while it runs."""


async def wait_for_runner(name: str, socket_path: Path, timeout_s: float, exited: ExitCheck, *,
                          poll_s: float, wake: asyncio.Event | None = None) -> None:
    """Return once the runner in sandbox `name` answers `GET /health` with 200 on `socket_path`.

    Between attempts it waits `poll_s`, or less when `wake` is set (e.g. the runner's process exited),
    and asks `exited` whether the runner is gone. Raises `SandboxError` when the runner exited, answered
    with another status, or did not answer within `timeout_s`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last_error: BaseException | None = None
    while True:
        why = await exited()
        if why is not None:
            raise SandboxError(why)
        if is_socket(socket_path):
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                    status, body = await health(str(socket_path))
            except (RunnerGone, OSError) as exc:
                last_error = exc
            except TimeoutError:
                last_error = TimeoutError("no reply to GET /health")
            else:
                if status == 200:
                    return
                raise SandboxError(f"the runner in {name} answered its warm-up GET /health with {status}: {body[:200]!r}")
        if loop.time() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else " (no socket appeared)"
            raise SandboxError(f"the runner in {name} did not answer within {timeout_s:g} s{detail}")
        if wake is None:
            await asyncio.sleep(poll_s)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await wake.wait()


async def health(socket_path: str) -> tuple[int, bytes]:
    """One `GET /health` on a runner's socket: its status and (bounded) body."""
    conn = await RunnerConnection.open(socket_path)
    try:
        # a small body warms the path /init takes next; the runner has run no tenant code yet, but its
        # reply is bounded all the same
        reply = await conn.request("GET", "/health", b"{}", max_body_bytes=HEALTH_REPLY_BYTES)
    finally:
        await conn.close()
    return reply.status, reply.body
