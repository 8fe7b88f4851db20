"""`whisklet serve`: the HTTP server in the foreground until SIGINT/SIGTERM, then a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import uvicorn

from gateway.app import build_app
from gateway.config import Config
from gateway.edge.http import bounded_http
from gateway.edge.inside import serving_inside
from gateway.service import Started, running

log = logging.getLogger("whisklet")


class _Server(uvicorn.Server):
    """uvicorn's server, minus its habit of re-raising the stop signal after a graceful exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def serve(config: Config, out: TextIO = sys.stdout) -> None:
    began = time.monotonic()
    async with running(config) as (services, started, _pool):
        app = build_app(services)
        server = _Server(
            uvicorn.Config(
                app,
                host=config.server.host,
                port=config.server.port,
                http=bounded_http(config.server),
                ws="none",
                lifespan="off",
                limit_concurrency=config.server.max_connections,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=int(config.server.shutdown_grace_s),
                timeout_keep_alive=65,
            )
        )
        announce = asyncio.create_task(_announce_when_listening(server, started, began, out))
        try:
            async with serving_inside(app, started.api_socket, config.server):  # the API from inside actions
                await server.serve()
        finally:
            announce.cancel()
            await asyncio.gather(announce, return_exceptions=True)
        print("whisklet stopping: finishing running activations", file=out, flush=True)
    print("whisklet stopped", file=out, flush=True)


async def _announce_when_listening(server: uvicorn.Server, started: Started, began: float, out: TextIO) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.01)
    if started.guest is not None:
        print(f"created namespace {started.guest.namespace}", file=out)
        print(f"APIHOST={started.api_host}", file=out)
        print(f"AUTH={started.guest.auth}", file=out)
    ready_s = time.monotonic() - began
    print(
        f"whisklet ready on {started.api_host} in {ready_s:.2f}s (pool.driver: {started.driver}); "
        f"use WSK_CONFIG_FILE={started.wskprops}",
        file=out,
        flush=True,
    )


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
