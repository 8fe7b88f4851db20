"""Readiness of a new sandbox: wait for its runner's socket, then require 200 from one warm-up `GET /health`.

Two ways to learn that the socket is there: the Docker driver polls for it (`wait_for_runner`); the
namespace driver, which starts the runner itself, hands it the write end of a pipe (`READY_FD_ENV`) on
which the runner writes `READY_BYTE` once it listens, watched on the event loop (`wait_for_ready_signal`):
no poll, and the pipe's end of file without the byte means the runner died. Either way the socket is
checked with `lstat` (a link to one is not a socket) and connected to only before any tenant code has run
in the sandbox; the warm-up reply is bounded all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from pool.runner.client import RunnerConnection, RunnerGone
from pool.sandbox.driver import SandboxError
from pool.sandbox.hostdir import is_socket

HEALTH_REPLY_BYTES = 1024
READY_FD_ENV = "WHISKLET_READY_FD"
"""Names the runner's inherited write end of the ready pipe; the runner deletes it, writes `READY_BYTE`
once its socket listens and closes the descriptor, all before any tenant code can run."""
READY_BYTE = b"1"
_DEATH_GRACE_S = 1.0  # after the ready pipe's end of file, how long the driver may take to see the exit

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
            last_error = await _warm_up(name, socket_path, deadline)
            if last_error is None:
                return
        if loop.time() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else " (no socket appeared)"
            raise SandboxError(f"the runner in {name} did not answer within {timeout_s:g} s{detail}")
        if wake is None:
            await asyncio.sleep(poll_s)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await wake.wait()


async def wait_for_ready_signal(name: str, socket_path: Path, timeout_s: float, exited: ExitCheck, ready_fd: int, *,
                                wake: asyncio.Event) -> None:
    """Return once the runner in sandbox `name` wrote `READY_BYTE` on `ready_fd` (the read end of its
    ready pipe, which the caller closes) and then answered `GET /health` with 200 on `socket_path`.

    `wake` is set when the runner's process exited. Raises `SandboxError` when the pipe ends without the
    byte (the runner died: `exited` says why), when the runner answers with another status, or when it did
    not get that far within `timeout_s`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            signalled = await _ready_byte(ready_fd)
    except TimeoutError:
        raise SandboxError(f"the runner in {name} did not answer within {timeout_s:g} s (it never said it "
                           "listens)") from None
    if not signalled:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DEATH_GRACE_S):
                await wake.wait()
        raise SandboxError(await exited() or f"the runner in {name} closed its ready pipe without saying it listens")
    if not is_socket(socket_path):
        raise SandboxError(f"the runner in {name} said it listens, but its socket is not there")
    error = await _warm_up(name, socket_path, deadline)
    if error is not None:
        raise SandboxError(f"the runner in {name} did not answer its warm-up GET /health: {error!r}")


async def _ready_byte(ready_fd: int) -> bool:
    """Whether the first byte on `ready_fd` is `READY_BYTE` (False on end of file or another byte)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(ready_fd, False)
    first: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(ready_fd, 1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not first.done():
            first.set_result(data)

    loop.add_reader(ready_fd, readable)
    try:
        return await first == READY_BYTE
    finally:
        loop.remove_reader(ready_fd)


async def _warm_up(name: str, socket_path: Path, deadline: float) -> BaseException | None:
    """One warm-up `GET /health` bounded by `deadline` (the loop's clock): None when it answered 200,
    the error when it could not be asked; `SandboxError` when it answered with another status."""
    try:
        async with asyncio.timeout(max(deadline - asyncio.get_running_loop().time(), 0.001)):
            status, body = await health(str(socket_path))
    except (RunnerGone, OSError) as exc:
        return exc
    except TimeoutError:
        return TimeoutError("no reply to GET /health")
    if status != 200:
        raise SandboxError(f"the runner in {name} answered its warm-up GET /health with {status}: {body[:200]!r}")
    return None


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
