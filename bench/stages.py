"""Where one activation's wall time goes: `whisklet serve` with monotonic stamps at each stage.

    python -m bench.stages [--activations 60] [--pace 0.3] [--driver sandbox|docker|auto]
    python -m bench.stages --serve STAMPS_FILE serve --port P --data-dir D

A profiling tool, not part of Whisklet. `--serve` wraps the hot path's functions (from outside, so the
code measured is the code shipped), runs `whisklet serve`, and appends one JSON line per HTTP request
to STAMPS_FILE: `[path, bytes_in_ns, [[stage, ns since the request's first bytes arrived], ...]]` in the
order the stages ended; `bytes_in_ns` is `time.perf_counter_ns()` (CLOCK_MONOTONIC, the same clock in
every process) when the protocol received the request's first bytes.
Without it, it starts such a server (4 prewarmed sandboxes of `--driver`'s kind), sends `--activations` warm blocking
`result=true` invokes `--pace` seconds apart from bench.core's lean client, and prints each stage's median
and p90 (the time from the previous stage's end to its own), from the client's write of the request
("client -> bytes in") to its read of the reply's last byte ("-> client"). Bounded in requests and time;
loopback only.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_stamps: contextvars.ContextVar[list[tuple[str, int]] | None] = contextvars.ContextVar("stamps", default=None)


def stamp(stage: str) -> None:
    stamps = _stamps.get()
    if stamps is not None:
        stamps.append((stage, time.perf_counter_ns()))


def _after(owner: Any, name: str, stage: Callable[[tuple[Any, ...]], str] | str) -> None:
    """Stamp `stage` when the coroutine function `owner.name` returns."""
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        finally:
            stamp(stage if isinstance(stage, str) else stage(args))

    setattr(owner, name, wrapped)


def _after_sync(owner: Any, name: str, stage: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        finally:
            stamp(stage)

    setattr(owner, name, wrapped)


def _stamp_bytes_in() -> None:
    """Note when a request's first bytes reach the protocol (before parsing), and hand it to the request's
    scope when its head is complete (the ASGI task that serves it starts from that scope)."""
    from gateway.edge.http import BoundedHttp

    data_received, headers_complete = BoundedHttp.data_received, BoundedHttp.on_headers_complete

    def received(self: Any, data: bytes) -> None:
        if not self._in_body and not self._head_raw:
            self._bench_bytes_in = time.perf_counter_ns()
        data_received(self, data)

    def complete(self: Any) -> None:
        self.scope["bench.bytes_in"] = getattr(self, "_bench_bytes_in", None)
        self.scope["bench.early"] = [("head parsed", time.perf_counter_ns())]
        headers_complete(self)

    BoundedHttp.data_received = received  # type: ignore[method-assign]
    BoundedHttp.on_headers_complete = complete  # type: ignore[method-assign]

    from starlette.applications import Starlette

    starlette_call = Starlette.__call__

    async def app_in(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if "bench.early" in scope:
            scope["bench.early"].append(("task started, app in", time.perf_counter_ns()))
        await starlette_call(self, scope, receive, send)

    Starlette.__call__ = app_in  # type: ignore[method-assign]


def install(stamps_file: Path) -> None:
    from gateway.api import actions
    from gateway.edge import envelope as middleware
    from gateway.entities import auth
    from gateway.invoke import controller
    from gateway.store import sqlite
    from pool import pool
    from pool.runner import client, invocation, logs

    out = stamps_file.open("a", buffering=1)
    envelope = middleware.RequestEnvelope.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await envelope(self, scope, receive, send)
        began = scope.get("bench.bytes_in") or time.perf_counter_ns()
        stamps: list[tuple[str, int]] = [*scope.get("bench.early", ()), ("middleware, envelope in", time.perf_counter_ns())]
        token = _stamps.set(stamps)

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                stamp("response built")
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                stamp("response out")

        try:
            await envelope(self, scope, receive, timed_send)
        finally:
            _stamps.reset(token)
            out.write(json.dumps([scope["path"], began, [(s, t - began) for s, t in stamps]]) + "\n")

    _stamp_bytes_in()
    middleware.RequestEnvelope.__call__ = call  # type: ignore[method-assign]
    _after(auth.Authenticator, "__call__", "routing + auth")
    _after_sync(controller.Controller, "admit", "throttle")
    _after(actions, "resolve_action", "resolve")
    _after(sqlite.SqliteStore, "accept", "journal commit")
    _after_sync(sqlite.SqliteStore, "journal", "journal queued")
    _after(pool.Pool, "_lease", "lease")
    _after(client.RunnerConnection, "open", "connect")
    _after(client.RunnerConnection, "reply", lambda args: args[2].lstrip("/"))  # init, run (sent pipelined)
    _after(client.RunnerConnection, "close", "close")
    _after(logs.LogCollector, "finish", "logs")
    _after_sync(controller, "build_record", "record build")
    _after_sync(controller.Controller, "_stored", "record put")
    _after(sqlite.SqliteStore, "flush", "flush")
    del invocation  # imported so that its names are bound before the patches above


def summarize(
    path: Path, client: list[tuple[int, int]] | None = None, prefix: str = "/api/v1/namespaces/"
) -> dict[str, tuple[float, float, int]]:
    """stage -> (median ms, p90 ms, count) of the time from the previous stamp to this one.

    `client` holds the client's (request written, reply read) `perf_counter_ns` pairs: a request whose
    first bytes arrived within one gains the stages "client -> bytes in" and "-> client"."""
    spans: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        route, bytes_in, stamps = json.loads(line)
        if not route.startswith(prefix) or len(stamps) < 5:
            continue
        sent = next(((s, r) for s, r in client or () if s <= bytes_in <= r), None)
        if sent is not None:
            stamps = [("client -> bytes in", bytes_in - sent[0]), *((stage, at + bytes_in - sent[0]) for stage, at in stamps),
                      ("-> client", sent[1] - sent[0])]
        previous, seen = 0, set()
        for stage, at in stamps:
            name = stage if stage not in seen else f"{stage} (again)"
            seen.add(stage)
            spans.setdefault(name, []).append((at - previous) / 1e6)
            previous = at
    return {
        stage: (statistics.median(v), sorted(v)[int(0.9 * (len(v) - 1))], len(v)) for stage, v in spans.items()
    }


def measure(activations: int, pace_s: float, driver: str = "auto") -> dict[str, tuple[float, float, int]]:
    import os
    import re
    import subprocess
    import tempfile
    import threading

    from bench.core import HELLO, LIMITS, Http
    from bench.serving import free_port

    with tempfile.TemporaryDirectory(prefix="wl-stages-", dir="/tmp") as tmp:
        stamps, port = Path(tmp) / "stamps.jsonl", free_port()
        env = {**os.environ, **LIMITS, "WHISKLET_POOL_MIN_PREWARM": "4", "PYTHONUNBUFFERED": "1",
               "WHISKLET_POOL_DRIVER": driver}
        command = [sys.executable, "-m", "bench.stages", "--serve", str(stamps),
                   "serve", "--port", str(port), "--data-dir", f"{tmp}/data"]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            assert server.stdout is not None
            for line in server.stdout:
                if line.startswith("whisklet ready on"):
                    break
            threading.Thread(target=server.stdout.read, daemon=True).start()
            found = re.search(r"^AUTH=(.+)$", Path(f"{tmp}/data/wskprops").read_text(), re.M)
            assert found is not None, "whisklet serve did not start"
            uuid, key = found.group(1).split(":")
            time.sleep(5)  # the pool fills
            client = asyncio.run(_invoke(Http(port, (uuid, key)), activations, pace_s, stamps, HELLO))
        finally:
            server.terminate()
            server.wait(60)
        return summarize(stamps, client)


async def _invoke(wsk: Any, activations: int, pace_s: float, stamps: Path, code: str) -> list[tuple[int, int]]:
    """Warm blocking invokes `pace_s` apart: each one's (request written, reply read) `perf_counter_ns`."""
    action = "/api/v1/namespaces/_/actions/bench-stages"
    client = []
    try:
        status, _, body = await wsk.request("PUT", f"{action}?overwrite=true", {"exec": {"kind": "nodejs:default", "code": code}})
        assert status == 200, body
        for n in range(activations + 5):
            if n == 5:  # the first few warm the gateway's own code paths
                stamps.write_text("")
                client.clear()
            sent = time.perf_counter_ns()
            status, _, body = await wsk.request("POST", f"{action}?blocking=true&result=true", {"name": str(n)})
            client.append((sent, time.perf_counter_ns()))
            assert status == 200, body
            await asyncio.sleep(pace_s)
    finally:
        await wsk.close()
    return client


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        install(Path(sys.argv[2]))
        from gateway.cli import main as whisklet

        return whisklet(sys.argv[3:])
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activations", type=int, default=60)
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between activations (keeps the pool warm)")
    parser.add_argument("--driver", default="auto", help="pool.driver of the server: sandbox, docker or auto")
    args = parser.parse_args()
    for stage, (p50, p90, count) in measure(args.activations, args.pace, args.driver).items():
        print(f"{stage:<20} p50 {p50:7.3f}  p90 {p90:7.3f}  n={count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
