"""Where one activation's wall time goes: `whisklet serve` with monotonic stamps at each stage.

    python -m bench.stages STAMPS_FILE serve --port P --data-dir D

A profiling launcher, not part of Whisklet: it wraps the hot path's functions (from outside, so the
code measured is the code shipped), runs `whisklet serve`, and appends one JSON line per HTTP request
to STAMPS_FILE: `[[stage, ns since the request arrived], ...]` in the order the stages ended.
`summarize(path)` turns the lines into a per-stage table of median and p90 durations.
"""

from __future__ import annotations

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


def install(stamps_file: Path) -> None:
    from gateway import auth, controller, middleware
    from gateway.api import actions
    from gateway.store import sqlite
    from pool import pool
    from pool.runner import client, invocation, logs

    out = stamps_file.open("a", buffering=1)
    envelope = middleware.RequestEnvelope.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await envelope(self, scope, receive, send)
        began = time.perf_counter_ns()
        stamps: list[tuple[str, int]] = [("http in", began)]
        token = _stamps.set(stamps)

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                stamp("response out")

        try:
            await envelope(self, scope, receive, timed_send)
        finally:
            _stamps.reset(token)
            out.write(json.dumps([scope["path"], [(s, t - began) for s, t in stamps]]) + "\n")

    middleware.RequestEnvelope.__call__ = call  # type: ignore[method-assign]
    _after(auth.Authenticator, "__call__", "auth")
    _after_sync(controller.Controller, "admit", "throttle")
    _after(actions, "resolve_action", "resolve")
    _after(sqlite.SqliteStore, "accept", "journal commit")
    _after_sync(sqlite.SqliteStore, "journal", "journal queued")
    _after(pool.Pool, "_lease", "lease")
    _after(client.RunnerConnection, "open", "connect")
    _after(client.RunnerConnection, "request", lambda args: args[2].lstrip("/"))  # init, run
    _after(logs.LogCollector, "finish", "logs")
    _after_sync(controller, "build_record", "record build")
    _after_sync(controller.Controller, "_stored", "record put")
    _after(sqlite.SqliteStore, "flush", "flush")
    del invocation  # imported so that its names are bound before the patches above


def summarize(path: Path, prefix: str = "/api/v1/namespaces/") -> dict[str, tuple[float, float, int]]:
    """stage -> (median ms, p90 ms, count) of the time from the previous stamp to this one."""
    spans: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        route, stamps = json.loads(line)
        if not route.startswith(prefix) or len(stamps) < 5:
            continue
        previous, seen = 0, set()
        for stage, at in stamps:
            name = stage if stage not in seen else f"{stage} (again)"
            seen.add(stage)
            spans.setdefault(name, []).append((at - previous) / 1e6)
            previous = at
    return {
        stage: (statistics.median(v), sorted(v)[int(0.9 * (len(v) - 1))], len(v)) for stage, v in spans.items()
    }


def main() -> int:
    install(Path(sys.argv[1]))
    from gateway.cli import main as whisklet

    return whisklet(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
