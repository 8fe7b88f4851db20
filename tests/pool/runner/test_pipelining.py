"""`/run` pipelined right behind `/init` on one connection, against the real runner (host node)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from pool.activation import ActivationStatus, Job, RunResult
from pool.runner import messages
from pool.runner.client import RunnerConnection, RunnerGone, RunnerReply
from pool.runner.invocation import activate
from pool.sandbox.driver import Sandbox, SandboxExit
from tests.pool.runtime.test_runner import NODE, RUNNER_JS, PipeOutput, connect_when_listening, end_runner


@dataclass
class RealRunner:
    process: asyncio.subprocess.Process
    directory: str
    sandbox: Sandbox


@pytest.fixture
async def real_runner() -> AsyncIterator[RealRunner]:
    directory = tempfile.mkdtemp(prefix="whisklet-pipe-")  # not tmp_path: a socket path stays under 108 bytes
    socket_path = os.path.join(directory, "runner.sock")
    process = await asyncio.create_subprocess_exec(
        NODE, str(RUNNER_JS), cwd=directory, env={"WHISKLET_SOCKET": socket_path, "PATH": os.environ.get("PATH", "")},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    output = PipeOutput(process)
    try:
        await (await connect_when_listening(socket_path, process)).close()  # the socket file comes before listen()
        yield RealRunner(process, directory, Sandbox("s1", "pipelined", 256, socket_path, output, time.time()))
    finally:
        await end_runner(process, output, directory)


def job(code: str, *, value: object = None, timeout_ms: int = 5_000) -> Job:
    return Job(
        activation_id="a1", action_name="pipelined", code=code, main="main", binary=False, memory_mb=256,
        timeout_ms=timeout_ms, log_limit_bytes=1 << 20, result_limit_bytes=1 << 20,
        run_value=json.dumps(value or {}).encode(), run_context={"activation_id": "a1"},
    )


async def still_running(sandbox: Sandbox) -> SandboxExit:
    return SandboxExit(running=True, oom_killed=False, exit_code=None)


async def activated(runner: RealRunner, code: str, value: object = None) -> RunResult:
    async with asyncio.timeout(20):
        return await activate(runner.sandbox, job(code, value=value), wait_ms=0, cold_start=False, exit_reason=still_running)


def texts(result: RunResult) -> list[str]:
    return [line[31:] for line in result.logs]


async def pipelined(runner: RealRunner, init: object, run: object) -> tuple[RunnerReply, RunnerReply]:
    """`/init` and `/run` sent back to back on one new connection; their replies."""
    connection = await RunnerConnection.open(runner.sandbox.socket_path)
    try:
        connection.send("POST", "/init", json.dumps(init).encode())
        connection.send("POST", "/run", json.dumps(run).encode())
        async with asyncio.timeout(10):
            return await connection.reply("POST", "/init"), await connection.reply("POST", "/run")
    finally:
        await connection.close()


async def test_init_and_run_sent_back_to_back_are_both_answered_in_order(real_runner: RealRunner) -> None:
    code = "function main(a) { return {hello: a.name} }"
    init, run = await pipelined(real_runner, {"value": {"main": "main", "code": code}}, {"value": {"name": "pipelined"}})
    assert (init.status, json.loads(init.body)) == (200, {"OK": True})
    assert (run.status, json.loads(run.body)) == (200, {"hello": "pipelined"})


async def test_an_activation_gets_its_result_and_its_logs(real_runner: RealRunner) -> None:
    result = await activated(real_runner, "function main(a) { console.log('hi', a.n); return {n: a.n + 1} }", value={"n": 1})
    assert result.status is ActivationStatus.SUCCESS
    assert json.loads(result.result) == {"n": 2}
    assert texts(result) == ["stdout: hi 1"]


async def test_a_failed_init_ends_the_activation_with_the_init_error_and_the_run_never_runs(real_runner: RealRunner) -> None:
    code = "function main() { require('fs').writeFileSync('ran', 'yes'); return {} }\nthrow new Error('broken at load');"
    result = await activated(real_runner, code)
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    error = json.loads(result.result)["error"]
    assert error.startswith("Initialization has failed due to: Error: broken at load")
    assert not os.path.exists(os.path.join(real_runner.directory, "ran"))
    assert texts(result)[-1] == f"stderr: {messages.LOGS_MAY_BE_MISSING}"
    assert not any("System not" in text for text in texts(result))  # the refused /run left nothing in the logs


async def test_the_runner_refuses_the_pipelined_run_after_a_failed_init(real_runner: RealRunner) -> None:
    marker = os.path.join(real_runner.directory, "ran")
    code = f"function main() {{ require('fs').writeFileSync({marker!r}, 'yes'); return {{}} }}\nthrow 'no';"
    init, run = await pipelined(real_runner, {"value": {"main": "main", "code": code}}, {"value": {}})
    assert init.status == 502
    assert run.status == 403
    assert json.loads(run.body) == {"error": "System not initialized."}
    assert not os.path.exists(marker)


async def test_a_missing_main_is_refused_at_init_and_the_pipelined_run_is_refused_too(real_runner: RealRunner) -> None:
    init, run = await pipelined(real_runner, {"value": {"main": "main"}}, {"value": {}})
    assert (init.status, json.loads(init.body)) == (403, {"error": "Missing main/no code to execute."})
    assert (run.status, json.loads(run.body)) == (403, {"error": "System not initialized."})


async def test_a_reply_with_nothing_sent_is_refused_not_awaited(real_runner: RealRunner) -> None:
    connection = await RunnerConnection.open(real_runner.sandbox.socket_path)
    try:
        with pytest.raises(RunnerGone):
            await connection.reply("POST", "/run")
    finally:
        await connection.close()


async def test_an_init_that_takes_its_time_still_runs_the_pipelined_run_after_it(real_runner: RealRunner) -> None:
    # The top-level code blocks the runner for a while: the /run bytes wait in the socket meanwhile.
    code = "const until = Date.now() + 300; while (Date.now() < until) {}\nfunction main() { return {after: true} }"
    result = await activated(real_runner, code)
    assert result.status is ActivationStatus.SUCCESS
    assert json.loads(result.result) == {"after": True}
    assert result.init_ms >= 300
