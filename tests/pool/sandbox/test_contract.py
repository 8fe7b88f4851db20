"""The sandbox driver contract (pool/sandbox/driver.py), run against both drivers: sandbox and docker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.probe import run_action
from pool.runner.client import RunnerConnection, RunnerGone
from pool.sandbox.driver import SandboxDriver
from tests.pool.sandbox.namespace.sandboxes import (
    DRIVERS,
    host_dirs,
    namespace_missing,
    opened,
    temporary_home,
)

MIB = 1024 * 1024


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.applymarker(pytest.mark.docker)
    elif problems := namespace_missing():
        pytest.skip("the namespace sandbox cannot run here: " + "; ".join(problems))
    return str(request.param)


@pytest.fixture
async def home() -> AsyncIterator[tuple[Path, Path]]:
    async with temporary_home() as paths:
        yield paths


@pytest.fixture
async def driver(kind: str, home: tuple[Path, Path]) -> AsyncIterator[SandboxDriver]:
    async with opened(kind, *home) as opened_driver:
        yield opened_driver


async def test_created_sandbox_runs_an_action_on_its_socket(driver: SandboxDriver) -> None:
    sandbox = await driver.create(128)
    try:
        assert sandbox.memory_mb == 128
        assert await run_action(sandbox, "function main(p) { return {hello: p.name}; }", {"name": "Ada"}) == {
            "hello": "Ada"}
    finally:
        await driver.destroy(sandbox)


async def test_a_created_sandbox_already_answered_so_the_next_request_needs_no_wait(driver: SandboxDriver) -> None:
    sandbox = await driver.create(128)
    try:
        conn = await RunnerConnection.open(sandbox.socket_path)
        try:
            reply = await conn.request("GET", "/health")
        finally:
            await conn.close()
        assert (reply.status, json.loads(reply.body)) == (200, {"ok": True})
    finally:
        await driver.destroy(sandbox)


async def test_destroy_removes_the_sandbox_and_repeating_it_is_harmless(
    driver: SandboxDriver, home: tuple[Path, Path]
) -> None:
    sandbox = await driver.create(128)
    assert host_dirs(driver, *home)
    await driver.destroy(sandbox)
    await driver.destroy(sandbox)
    assert host_dirs(driver, *home) == []
    with pytest.raises(RunnerGone):
        await RunnerConnection.open(sandbox.socket_path)


async def test_sandboxes_left_by_a_stopped_whisklet_are_removed_at_the_next_start(
    kind: str, home: tuple[Path, Path]
) -> None:
    async with opened(kind, *home) as first:
        left = [await first.create(128), await first.create(128)]
        async with opened(kind, *home) as second:
            assert await second.remove_orphans() == 2
            assert host_dirs(second, *home) == []
            for sandbox in left:
                with pytest.raises(RunnerGone):
                    await RunnerConnection.open(sandbox.socket_path)
        for sandbox in left:
            await first.destroy(sandbox)  # the first driver's own records: still harmless


async def test_an_out_of_memory_kill_is_reported(driver: SandboxDriver) -> None:
    sandbox = await driver.create(128)
    try:
        with pytest.raises(RunnerGone):
            await run_action(sandbox, """
                function main() {
                  const kept = [];
                  for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1));
                }""")
        exit = await driver.exit_reason(sandbox)
        assert (exit.running, exit.oom_killed) == (False, True)
    finally:
        await driver.destroy(sandbox)


async def test_exit_reason_tells_a_live_runner_from_one_that_exited(driver: SandboxDriver) -> None:
    sandbox = await driver.create(128)
    alive = await driver.create(128)
    try:
        with pytest.raises(RunnerGone):
            await run_action(sandbox, "function main() { process.exit(7); }")
        exit = await driver.exit_reason(sandbox)
        assert (exit.running, exit.oom_killed, exit.exit_code) == (False, False, 7)
        exit = await driver.exit_reason(alive)
        assert (exit.running, exit.oom_killed, exit.exit_code) == (True, False, None)
    finally:
        await driver.destroy(sandbox)
        await driver.destroy(alive)


async def test_a_cancelled_create_leaves_nothing_behind(driver: SandboxDriver, home: tuple[Path, Path]) -> None:
    creating = asyncio.ensure_future(driver.create(128))
    await asyncio.sleep(0)  # let it start
    creating.cancel()
    with pytest.raises(asyncio.CancelledError):
        await creating
    assert host_dirs(driver, *home) == []


async def test_a_new_sandbox_sees_no_file_process_or_socket_an_earlier_one_left(driver: SandboxDriver) -> None:
    leave = """
        function main() {
          const fs = require('fs');
          const before = {file: fs.existsSync('/tmp/left'),
                          processes: fs.readdirSync('/proc').filter(n => /^\\d+$/.test(n)).length};
          fs.writeFileSync('/tmp/left', 'x');
          require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'],
                                         {detached: true, stdio: 'ignore'}).unref();
          return before;
        }"""
    first = await driver.create(128)
    try:
        assert await run_action(first, leave) == {"file": False, "processes": 1}
        second = await driver.create(128)
        try:
            assert await run_action(second, leave) == {"file": False, "processes": 1}
        finally:
            await driver.destroy(second)
    finally:
        await driver.destroy(first)


BURN_CPU = "function main() { let x = 0; for (let i = 0; i < 3e7; i++) x += Math.sqrt(x + i); return {x}; }"
HELLO = "function main() { return {msg: 'hello'}; }"
HOLD_100_MB = "function main() { const b = Buffer.alloc(100 * 1024 * 1024, 1); return {n: b.length}; }"


async def test_resource_use_counts_the_activations_cpu_and_the_sandboxs_peak_memory(driver: SandboxDriver) -> None:
    hello, burner, holder = [await driver.create(256) for _ in range(3)]
    try:
        await run_action(hello, HELLO)
        await run_action(burner, BURN_CPU)
        await run_action(holder, HOLD_100_MB)
        idle, busy, big = [await driver.resource_use(s) for s in (hello, burner, holder)]
    finally:
        for sandbox in (hello, burner, holder):
            await driver.destroy(sandbox)
    assert idle is not None and busy is not None and big is not None
    assert busy.cpu_ms > 5 * idle.cpu_ms
    assert big.peak_memory_bytes is not None and big.peak_memory_bytes >= 100 * MIB
    assert idle.peak_memory_bytes is not None and idle.peak_memory_bytes < big.peak_memory_bytes
    assert await driver.resource_use(hello) is None  # destroyed: nothing left to read
