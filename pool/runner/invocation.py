"""One activation on one leased sandbox: `/init`, `/run`, the time limit, the logs, the outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec

from pool.runner import messages
from pool.activation import ActivationStatus, Job, RunResult
from pool.sandbox.driver import Sandbox, SandboxError, SandboxExit, SandboxLost
from pool.runner.logs import log_line, read_activation_logs
from pool.runner.outcome import error_result, interpret_init, interpret_run
from pool.runner.client import RunnerConnection, RunnerGone

_encode = msgspec.json.Encoder().encode

# V8's own heap limit ends a process before the cgroup does when objects, not buffers, fill memory.
_V8_OUT_OF_MEMORY = "JavaScript heap out of memory"


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
) -> RunResult:
    """Run `job` on `sandbox`, which the caller destroys afterwards whatever happens here.

    Raises `SandboxLost` when the runner cannot be reached at all: then nothing of the job ran.
    """
    timeout_s = job.timeout_ms / 1000
    start_ms = _now_ms()
    init_ms = 0
    size: int | None = None
    timed_out = False
    try:
        connection = await RunnerConnection.open(sandbox.socket_path)
    except RunnerGone as gone:
        raise SandboxLost(f"the runner of {sandbox.name} is gone: {gone}") from gone
    try:
        init_ms = await _init(connection, job, timeout_s, sandbox, exit_reason)
        status, result, size = await _run(connection, job, timeout_s, sandbox, exit_reason)
    except _Failed as failure:
        status, result, timed_out = ActivationStatus.DEVELOPER_ERROR, failure.result, failure.timed_out
    except RunnerGone:
        status, result = ActivationStatus.DEVELOPER_ERROR, error_result(messages.INIT_EXITED)
    finally:
        await connection.close()
    end_ms = _now_ms()
    if init_ms == 0 and status is ActivationStatus.DEVELOPER_ERROR:
        init_ms = end_ms - start_ms
    logs = await _collect_logs(sandbox, job)
    if status is ActivationStatus.DEVELOPER_ERROR:
        if any(_V8_OUT_OF_MEMORY in line for line in logs) and not timed_out:
            result = error_result(messages.OUT_OF_MEMORY)
        logs.append(log_line("stderr", messages.LOGS_MAY_BE_MISSING))
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


async def _init(connection, job, timeout_s, sandbox, exit_reason) -> int:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            reply = await connection.request("POST", "/init", init_body(job))
    except TimeoutError:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms, during_init=True)), timed_out=True) from None
    except RunnerGone:
        raise _Failed(await _exit_result(sandbox, exit_reason, messages.INIT_EXITED)) from None
    elapsed_s = time.monotonic() - started
    if elapsed_s >= timeout_s:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms, during_init=True)), timed_out=True)
    failure = interpret_init(reply.status, reply.body)
    if failure is not None:
        raise _Failed(failure)
    return round(elapsed_s * 1000)


async def _run(connection, job, timeout_s, sandbox, exit_reason) -> tuple[ActivationStatus, bytes, int]:
    started = time.monotonic()
    body = run_body(job, _now_ms() + job.timeout_ms)
    try:
        async with asyncio.timeout(timeout_s):
            # what is past the result limit is counted, not kept: a huge result cannot swell the gateway
            reply = await connection.request("POST", "/run", body, max_body_bytes=job.result_limit_bytes)
    except TimeoutError:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms)), timed_out=True) from None
    except RunnerGone:
        raise _Failed(await _exit_result(sandbox, exit_reason, messages.RUN_EXITED)) from None
    if time.monotonic() - started >= timeout_s:
        raise _Failed(error_result(messages.timed_out(job.timeout_ms)), timed_out=True)
    size = reply.size if reply.truncated else len(reply.body)
    status, result = interpret_run(reply.status, reply.body, job.result_limit_bytes, size=size)
    return status, result, size


async def _exit_result(sandbox, exit_reason, otherwise: str) -> bytes:
    """The error for a runner that went away: out of memory if the engine says so, else `otherwise`."""
    try:
        for _ in range(20):  # the engine notices the exit a moment after the socket closes
            known = await exit_reason(sandbox)
            if known.oom_killed:
                return error_result(messages.OUT_OF_MEMORY)
            if not known.running:
                break
            await asyncio.sleep(0.05)
    except SandboxError:  # the engine could not tell; the plain message is still true
        pass
    return error_result(otherwise)


async def _collect_logs(sandbox: Sandbox, job: Job) -> list[str]:
    try:
        return await asyncio.to_thread(read_activation_logs, sandbox.log_path, job.log_limit_bytes)
    except OSError:
        return [log_line("stderr", messages.LOGS_NOT_COLLECTED)]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
