"""Running code in one sandbox's runner, outside the pool: `/init` then `/run`, for benchmarks and tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pool.runner.client import RunnerConnection
from pool.sandbox.driver import Sandbox


async def run_action(sandbox: Sandbox, code: str, value: dict[str, Any] | None = None,
                     timeout_s: float = 30) -> dict[str, Any]:
    """/init then /run `code`'s `main` with `value`; the /run reply's JSON (the runner must answer 200)."""
    conn = await RunnerConnection.open(sandbox.socket_path)
    try:
        async with asyncio.timeout(timeout_s):
            init = {"value": {"name": "probe", "main": "main", "code": code}}
            reply = await conn.request("POST", "/init", json.dumps(init).encode())
            assert reply.status == 200, reply
            reply = await conn.request("POST", "/run", json.dumps({"value": value or {}}).encode())
    finally:
        await conn.close()
    assert reply.status == 200, reply
    result: dict[str, Any] = json.loads(reply.body)
    return result
