"""Where one activation's wall time goes: `whisklet serve` with monotonic stamps at each stage.

    python -m bench.stages [--activations 60] [--pace 0.3] [--driver sandbox|docker|auto]
    python -m bench.stages --serve STAMPS_FILE serve --port P --data-dir D

A profiling tool, not part of Whisklet. `--serve` wraps the hot path's functions (from outside, so the
code measured is the code shipped), runs `whisklet serve`, and appends one JSON line per HTTP request
to STAMPS_FILE: `[path, [[stage, ns since the request arrived], ...]]` in the order the stages ended.
Without it, it starts such a server (4 prewarmed sandboxes of `--driver`'s kind), sends `--activations` warm blocking
`result=true` invokes `--pace` seconds apart, and prints each stage's median and p90 (the time from
the previous stage's end to its own). Bounded in requests and time; loopback only.
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


def measure(activations: int, pace_s: float, driver: str = "auto") -> dict[str, tuple[float, float, int]]:
    import os
    import re
    import subprocess
    import tempfile
    import threading

    import httpx

    from bench.core import HELLO, LIMITS
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
            action = f"http://127.0.0.1:{port}/api/v1/namespaces/_/actions/bench-stages"
            with httpx.Client(auth=(uuid, key), timeout=60) as wsk:
                wsk.put(action, params={"overwrite": "true"},
                        json={"exec": {"kind": "nodejs:default", "code": HELLO}}).raise_for_status()
                for n in range(activations + 5):
                    if n == 5:  # the first few warm the gateway's own code paths
                        stamps.write_text("")
                    wsk.post(action, params={"blocking": "true", "result": "true"}, json={"name": str(n)}).raise_for_status()
                    time.sleep(pace_s)
        finally:
            server.terminate()
            server.wait(60)
        return summarize(stamps)


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
        print(f"{stage:<20} p50 {p50:7.3f} ms  p90 {p90:7.3f} ms  n={count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
