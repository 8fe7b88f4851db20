"""One activation on one leased sandbox: `/init`, `/run`, the time limit, the logs, the outcome.

`/run` is sent right behind `/init` on the same connection, without waiting for `/init`'s reply (HTTP/1.1
pipelining: one wake-up of the runner and of the gateway fewer). Node answers a connection's requests in
order, and runner.js's `/init` is synchronous, so the `/run` is handled after it and refused when it
failed (`main` unset); the gateway then reads no further, and the activation ends with the `/init` error
exactly as when nothing else was sent. The `deadline` the `/run` carries is set when both are sent, so
it comes before the one the gateway enforces by `/init`'s duration (OpenWhisk sets it after `/init`).

Time: `/init` and `/run` each get the action's time limit (as in OpenWhisk; `/run`'s counts from `/init`'s
reply, when the runner starts it). After that, whatever the sandbox does, an activation takes at most
`GRACE_S` more: asking the engine why a runner went away (`EXIT_REASON_S`, only when it did) and waiting
for the end of its output (`SENTINEL_WAIT_S`, not after a timeout). Closing the connection never waits on
the runner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from pool.activation import ActivationStatus, Job, RunResult
from pool.runner import messages
from pool.runner.client import RunnerConnection, RunnerGone
from pool.runner.logs import SENTINEL_WAIT_S, LogCollector, log_line
from pool.runner.outcome import INIT_SLACK_BYTES, error_result, interpret_init, interpret_run
from pool.sandbox.driver import Sandbox, SandboxError, SandboxExit, SandboxLost

_encode = msgspec.json.Encoder().encode

# V8's own heap limit ends a process before the cgroup does when objects, not buffers, fill memory.
_V8_OUT_OF_MEMORY = "JavaScript heap out of memory"

EXIT_REASON_S = 2.0
"""How long the engine is asked, at most, whether a runner that went away was killed for memory."""
GRACE_S = EXIT_REASON_S + SENTINEL_WAIT_S
"""What an activation may take beyond its `/init` and `/run` time limits, at most."""
_EXIT_POLL_S = 0.05


class _Failed(Exception):
    """The activation ended early with a developer error; carries its result and whether it timed out."""

    def __init__(self, result: bytes, timed_out: bool = False) -> None:
        self.result = result
        self.timed_out = timed_out


def init_body(job: Job) -> bytes:
    value: dict[str, object] = {
        "name": job.action_name,
        "main": job.main,
        "binary": job.binary,
        "code": job.code,
        "log_limit_bytes": job.log_limit_bytes,
    }
    if job.env:
        value["env"] = job.env
    return _encode({"value": value})


def run_body(job: Job, deadline_ms: int) -> bytes:
    context = _encode({**job.run_context, "deadline": str(deadline_ms)})
    return b'{"value":' + job.run_value + b"," + context[1:]


async def activate(
    sandbox: Sandbox,
    job: Job,
    *,
    wait_ms: int,
    cold_start: bool,
    exit_reason: Callable[[Sandbox], Awaitable[SandboxExit]],
    connection: RunnerConnection | None = None,
) -> RunResult:
    """Run `job` on `sandbox`, which the caller destroys afterwards whatever happens here.

    `connection`, when given, is one opened to the runner before any tenant code ran in the sandbox
    (the pool keeps one per prewarmed sandbox); it is used if it is still `quiet`, else a new one is
    opened, and it is closed here either way. Raises `SandboxLost` when the runner cannot be reached
    at all: then nothing of the job ran.
    """
    timeout_s = job.timeout_ms / 1000
    start_ms = _now_ms()
    init_ms = 0
    size: int | None = None
    timed_out = False
    connection = await _connected(sandbox, connection)
    # What the runner wrote so far waits in the output stream: nothing is lost by starting to read now.
    collector = LogCollector(sandbox.output, job.log_limit_bytes)
    try:
        connection.send("POST", "/init", init_body(job))
        connection.send("POST", "/run", run_body(job, start_ms + job.timeout_ms))
        init_ms = await _init(connection, job, timeout_s, sandbox, exit_reason)
        status, result, size = await _run(connection, job, timeout_s, sandbox, exit_reason)
    except _Failed as failure:
        status, result, timed_out = ActivationStatus.DEVELOPER_ERROR, failure.result, failure.timed_out
    except RunnerGone:
        status, result = ActivationStatus.DEVELOPER_ERROR, error_result(messages.INIT_EXITED)
    except BaseException:
        await collector.cancel()
        raise
    finally:
        await connection.close()
    end_ms = _now_ms()
    if init_ms == 0 and status is ActivationStatus.DEVELOPER_ERROR:
        init_ms = end_ms - start_ms
    # After a timeout the runner is still busy: its sentinels would never come.
    logs, complete = await collector.finish(0 if timed_out else SENTINEL_WAIT_S)
    if status is ActivationStatus.DEVELOPER_ERROR:
        if any(_V8_OUT_OF_MEMORY in line for line in logs) and not timed_out:
            result = error_result(messages.OUT_OF_MEMORY)
        logs.append(log_line("stderr", messages.LOGS_MAY_BE_MISSING))
    elif not complete:
        logs.append(log_line("stderr", messages.LOGS_NOT_COLLECTED))
    return RunResult(
        status=status,
        result=result,
        size=size,
        start_ms=start_ms,
        end_ms=end_ms,
        init_ms=init_ms,
        wait_ms=wait_ms,
        cold_start=cold_start,
        timed_out=timed_out,
        logs=logs,
    )


_ExitReason = Callable[[Sandbox], Awaitable[SandboxExit]]


async def _connected(sandbox: Sandbox, kept: RunnerConnection | None) -> RunnerConnection:
    """`kept` if it can still take a request, else a new connection (no tenant code has run yet)."""
    if kept is not None:
        if kept.quiet():
            return kept
        await kept.close()
    try:
        return await RunnerConnection.open(sandbox.socket_path)
    except RunnerGone as gone:
        raise SandboxLost(f"the runner of {sandbox.name} is gone: {gone}") from gone


async def _init(
    connection: RunnerConnection, job: Job, timeout_s: float, sandbox: Sandbox, exit_reason: _ExitReason
) -> int:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            # bounded like /run: a runner patched by the action's own top-level code may answer anything
            reply = await connection.reply("POST", "/init", max_body_bytes=job.result_limit_bytes + INIT_SLACK_BYTES)
    except TimeoutError:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms, during_init=True)), timed_out=True) from None
    except RunnerGone:
        raise _Failed(await _exit_result(sandbox, exit_reason, messages.INIT_EXITED)) from None
    elapsed_s = time.monotonic() - started
    if elapsed_s >= timeout_s:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms, during_init=True)), timed_out=True)
    failure = interpret_init(reply.status, reply.body, job.result_limit_bytes, size=reply.size)
    if failure is not None:
        raise _Failed(failure)
    return round(elapsed_s * 1000)


async def _run(
    connection: RunnerConnection, job: Job, timeout_s: float, sandbox: Sandbox, exit_reason: _ExitReason
) -> tuple[ActivationStatus, bytes, int]:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            # what is past the result limit is counted, not kept: a huge result cannot swell the gateway
            reply = await connection.reply("POST", "/run", max_body_bytes=job.result_limit_bytes)
    except TimeoutError:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms)), timed_out=True) from None
    except RunnerGone:
        raise _Failed(await _exit_result(sandbox, exit_reason, messages.RUN_EXITED)) from None
    if time.monotonic() - started >= timeout_s:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms)), timed_out=True)
    size = reply.size if reply.size is not None else len(reply.body)
    status, result = interpret_run(reply.status, reply.body, job.result_limit_bytes, size=size)
    return status, result, size


async def _exit_result(sandbox: Sandbox, exit_reason: _ExitReason, otherwise: str) -> bytes:
    """The error for a runner that went away: out of memory if the engine says so within
    `EXIT_REASON_S`, else `otherwise`."""
    try:
        async with asyncio.timeout(EXIT_REASON_S):
            while True:  # the engine notices the exit a moment after the socket closes
                known = await exit_reason(sandbox)
                if known.oom_killed:
                    return error_result(messages.OUT_OF_MEMORY)
                if not known.running:
                    break
                await asyncio.sleep(_EXIT_POLL_S)
    except (SandboxError, TimeoutError):  # the engine could not tell in time; the plain message is still true
        pass
    return error_result(otherwise)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
