"""A runner that does not keep to pipelining's order: it answers `/run` before `/init`, answers twice,
never answers `/init`, or answers with bytes that are not an HTTP reply. Each activation still ends
within its limits, with what the gateway read bounded and the error OpenWhisk gives for the same `/init`
reply, and the connection is never reused.

The runner is the tenant's (the action's top-level code can patch it during `/init`); here a scripted
Unix-socket server stands in for it, with the gateway's own `activate`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pool.activation import ActivationStatus, Job, RunResult
from pool.runner import messages
from pool.runner.invocation import GRACE_S, activate
from pool.sandbox.driver import Sandbox, SandboxExit
from tests.pool.fake_driver import FakeOutput

TIMEOUT_MS = 500
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"OK\":true}"


def reply(status: int, body: bytes) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


class HostileRunner:
    """Answers with `script` once it has read `after_requests` requests (0: straight after connecting),
    then reads on without answering. Counts what it read."""

    def __init__(self, script: bytes, after_requests: int) -> None:
        self.script = script
        self.after_requests = after_requests
        self.requests = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.after_requests == 0:
                writer.write(self.script)
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                self.requests += 1
                if self.requests == self.after_requests:
                    writer.write(self.script)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[HostileRunner], Awaitable[Sandbox]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    directory = tempfile.mkdtemp(prefix="whisklet-pipe-")
    servers: list[asyncio.Server] = []

    async def start(runner: HostileRunner) -> Sandbox:
        socket_path = os.path.join(directory, f"runner{len(servers)}.sock")
        servers.append(await asyncio.start_unix_server(runner.serve, socket_path))
        return Sandbox("s", "hostile", 256, socket_path, FakeOutput(), time.time())

    yield start
    for server in servers:
        server.close()
    shutil.rmtree(directory, ignore_errors=True)


async def still_running(sandbox: Sandbox) -> SandboxExit:
    return SandboxExit(running=True, oom_killed=False, exit_code=None)


async def activated(sandbox: Sandbox) -> RunResult:
    job = Job(
        activation_id="a1", action_name="hostile", code="function main() { return {} }", main="main", binary=False,
        memory_mb=256, timeout_ms=TIMEOUT_MS, log_limit_bytes=1 << 20, result_limit_bytes=1 << 20, run_value=b"{}",
    )
    # Bounded: the two time limits and the grace, plus slack for a loaded machine; past it the test fails.
    async with asyncio.timeout(2 * TIMEOUT_MS / 1000 + GRACE_S + 5):
        return await activate(sandbox, job, wait_ms=0, cold_start=False, exit_reason=still_running)


def error(result: RunResult) -> str:
    return str(json.loads(result.result)["error"])


async def test_a_run_reply_before_the_init_reply_is_taken_as_the_init_reply_and_the_order_is_kept(serve: Serve) -> None:
    # Both replies arrive before the runner has read anything: the first answers /init, the second /run.
    runner = HostileRunner(reply(200, b'{"ran":"first"}') + OK, after_requests=0)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.SUCCESS
    assert json.loads(result.result) == {"OK": True}


async def test_a_failing_init_reply_ahead_of_everything_ends_the_activation_with_the_init_error(serve: Serve) -> None:
    runner = HostileRunner(reply(502, b'{"error":"nope"}') + reply(200, b'{"ran":"anyway"}'), after_requests=0)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert error(result) == "nope"
    assert b"anyway" not in result.result


async def test_a_runner_answering_three_times_has_its_extra_reply_ignored(serve: Serve) -> None:
    runner = HostileRunner(OK + reply(200, b'{"n":1}') + reply(200, b'{"n":2}'), after_requests=2)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.SUCCESS
    assert json.loads(result.result) == {"n": 1}


async def test_a_runner_answering_init_twice_gets_its_second_reply_read_as_the_run_result(serve: Serve) -> None:
    runner = HostileRunner(OK + OK, after_requests=1)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.SUCCESS
    assert json.loads(result.result) == {"OK": True}


async def test_a_runner_that_never_answers_init_times_out_during_initialization(serve: Serve) -> None:
    runner = HostileRunner(b"", after_requests=99)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert result.timed_out
    assert error(result) == messages.timed_out(TIMEOUT_MS, during_init=True)
    assert runner.requests == 2  # both were sent; neither was answered


async def test_a_runner_that_answers_init_and_never_run_times_out_during_the_run(serve: Serve) -> None:
    runner = HostileRunner(OK, after_requests=2)
    result = await activated(await serve(runner))
    assert result.timed_out
    assert error(result) == messages.timed_out(TIMEOUT_MS)


async def test_a_runner_that_closes_after_answering_init_ends_the_run_as_exited(serve: Serve) -> None:
    runner = HostileRunner(OK.replace(b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nConnection: close\r\n"), after_requests=2)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert error(result) == messages.RUN_EXITED


async def test_a_runner_answering_init_with_garbage_ends_the_activation_as_not_initialized(serve: Serve) -> None:
    runner = HostileRunner(b"\x00\xffnot http at all\r\n\r\n" + reply(200, b'{"ran":"anyway"}'), after_requests=2)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert not result.timed_out
    assert error(result) == messages.INIT_EXITED
    assert b"anyway" not in result.result


async def test_a_runner_answering_run_with_garbage_after_a_good_init_ends_the_run_as_exited(serve: Serve) -> None:
    runner = HostileRunner(OK + b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", after_requests=2)
    result = await activated(await serve(runner))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert error(result) == messages.RUN_EXITED
