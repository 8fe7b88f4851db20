"""The API from inside an action: the gateway's own app served on a Unix socket that sandboxes reach.

The driver binds the socket's directory read-only into every sandbox whose egress allows the API; the
runner's forwarder (pool/runtime/nodejs/api_proxy.js) turns `__OW_API_HOST=http://127.0.0.1:3233` on the
sandbox's loopback into connections to it. It is the same app with the same HTTP bounds as the public
listener, so every request from inside is an ordinary API request: authenticated (a call without
credentials gets OpenWhisk's 401), throttled, permission-checked and bounded. Its connections are
bounded on their own (`INSIDE_MAX_CONNECTIONS`), so tenants calling from inside cannot take the public
listener's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from gateway.config import ServerConfig
from gateway.edge.http import bounded_http

INSIDE_MAX_CONNECTIONS = 256


class _InsideServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to the public listener's server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving_inside(app: ASGIApp, socket_path: str, server: ServerConfig) -> AsyncIterator[None]:
    """Serve `app` on `socket_path` (mode 0666 in its 0711 directory) until the block is left.

    A stale socket from a killed run is replaced. Without a path (a driver with no API socket) nothing
    is served.
    """
    if not socket_path:
        yield
        return
    path = Path(socket_path)
    with contextlib.suppress(FileNotFoundError):
        await asyncio.to_thread(path.unlink)
    inside = _InsideServer(
        uvicorn.Config(
            app, uds=socket_path, http=bounded_http(server), ws="none", lifespan="off",
            limit_concurrency=INSIDE_MAX_CONNECTIONS, log_level="warning", access_log=False,
            timeout_graceful_shutdown=int(server.shutdown_grace_s), timeout_keep_alive=65,
        )
    )
    task = asyncio.create_task(inside.serve(), name="inside-api")
    try:
        while not inside.started and not task.done():
            await asyncio.sleep(0.005)  # uvicorn offers no event for "listening"; bounded by its start-up
        if task.done():
            task.result()  # raises why it could not listen
        await asyncio.to_thread(os.chmod, socket_path, 0o666)  # the runner's uid connects to it
        yield
    finally:
        inside.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
