"""The in-container runner (pool/runtime/nodejs/runner.js), run with the host's node on a Unix socket."""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from pool.runner.client import RunnerConnection, RunnerGone, RunnerReply
from pool.runner.logs import SENTINEL, LogCollector

RUNNER_JS = Path(__file__).resolve().parents[3] / "pool" / "runtime" / "nodejs" / "runner.js"
NODE = shutil.which("node") or "/usr/bin/node"
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr): (.*)$")

HELLO = "function main(args) { return {greeting: 'Hello ' + (args.name || 'World')} }"


class PipeOutput:
    """A child process's stdout and stderr pipes as a `RunnerOutput`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._chunks: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(maxsize=16)
        self._readers = [
            asyncio.create_task(self._pump(name, stream))
            for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
        ]
        self._open = 2

    async def _pump(self, name: str, stream: asyncio.StreamReader | None) -> None:
        assert stream is not None
        while data := await stream.read(1 << 16):
            await self._chunks.put((name, data))
        await self._chunks.put(None)

    async def read(self) -> tuple[str, bytes] | None:
        while self._open:
            chunk = await self._chunks.get()
            if chunk is not None:
                return chunk
            self._open -= 1
        return None

    def close(self) -> None:
        self._open = 0
        for reader in self._readers:
            reader.cancel()


@dataclass
class Runner:
    process: asyncio.subprocess.Process
    socket_path: str
    output: PipeOutput
    logs: LogCollector
    conn: RunnerConnection

    async def init(self, code: str, main: str = "main", **value: object) -> RunnerReply:
        return await self.post("/init", {"value": {"main": main, "code": code, **value}})

    async def run(self, value: object = None, **context: str) -> RunnerReply:
        return await self.post("/run", {"value": value, **context})

    async def post(self, path: str, body: object) -> RunnerReply:
        async with asyncio.timeout(10):
            return await self.conn.request("POST", path, json.dumps(body).encode())

    async def log_lines(self, wait_s: float = 5.0) -> list[tuple[str, str, str]]:
        """(timestamp, stream, text) of each line the gateway would store, once both sentinels came or
        both streams ended (at most `wait_s`); the logs can be read once."""
        lines, complete = await self.logs.finish(wait_s)
        assert complete
        parsed = [LINE.match(line) for line in lines]
        assert all(parsed), lines
        return [match.groups() for match in parsed]

    async def log_texts(self, stream: str | None = None) -> list[str]:
        return [text for _, s, text in await self.log_lines() if stream in (None, s)]

    async def exit_code(self) -> int:
        async with asyncio.timeout(10):
            return await self.process.wait()


async def start_runner(directory: str, log_limit_bytes: int = 10 * 1024 * 1024) -> Runner:
    socket_path = os.path.join(directory, "runner.sock")
    env = {"WHISKLET_SOCKET": socket_path, "PATH": os.environ.get("PATH", "")}
    process = await asyncio.create_subprocess_exec(
        NODE, "--expose-gc", str(RUNNER_JS), cwd=directory, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    output = PipeOutput(process)
    logs = LogCollector(output, log_limit_bytes)
    try:
        conn = await connect_when_listening(socket_path, process)
    except RuntimeError:
        await logs.cancel()
        output.close()
        raise
    return Runner(process, socket_path, output, logs, conn)


async def connect_when_listening(
    socket_path: str, process: asyncio.subprocess.Process, timeout_s: float = 10
) -> RunnerConnection:
    """A connection to a runner started on the host, once it listens (its socket file appears before it
    accepts); RuntimeError if it exits or is not listening within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await RunnerConnection.open(socket_path)
        except RunnerGone:
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("runner did not start") from None
            await asyncio.sleep(0.005)  # polling the runner's start-up, bounded by the deadline


@pytest.fixture
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[Runner]:
    # Not tmp_path: a Unix socket path must stay under 108 bytes.
    directory = tempfile.mkdtemp(prefix="whisklet-runner-")
    runner = await start_runner(directory, *([request.param] if hasattr(request, "param") else []))
    try:
        yield runner
    finally:
        await runner.conn.close()
        await runner.logs.cancel()
        await end_runner(runner.process, runner.output, directory)


class Closable(Protocol):
    def close(self) -> None: ...


async def end_runner(process: asyncio.subprocess.Process, output: Closable, directory: str | Path) -> None:
    """Kill a runner started on the host (unless it exited), close what reads its output, remove its directory."""
    if process.returncode is None:
        process.kill()
    await process.wait()
    output.close()
    shutil.rmtree(directory, ignore_errors=True)


def body(reply: RunnerReply) -> object:
    return json.loads(reply.body)


# --- /init ---------------------------------------------------------------------------------------


async def test_global_main_is_found(runner: Runner) -> None:
    assert (await runner.init(HELLO)).status == 200
    reply = await runner.run({"name": "Ada"})
    assert (reply.status, body(reply)) == (200, {"greeting": "Hello Ada"})


async def test_init_answers_ok_true(runner: Runner) -> None:
    reply = await runner.init(HELLO)
    assert (reply.status, body(reply)) == (200, {"OK": True})


async def test_module_exports_main_is_found(runner: Runner) -> None:
    await runner.init("module.exports.main = async () => ({via: 'module.exports'})")
    assert body(await runner.run()) == {"via": "module.exports"}


async def test_exports_main_is_found(runner: Runner) -> None:
    await runner.init("exports.main = () => ({via: 'exports'})")
    assert body(await runner.run()) == {"via": "exports"}


async def test_custom_main_name(runner: Runner) -> None:
    await runner.init("function main() { return {which: 'main'} }\n"
                      "function hello() { return {which: 'hello'} }", main="hello")
    assert body(await runner.run()) == {"which": "hello"}


async def test_require_loads_node_builtins(runner: Runner) -> None:
    await runner.init("const os = require('os'); const { join } = require('node:path');\n"
                      "function main() { return {eol: os.EOL, joined: join('a', 'b')} }")
    assert body(await runner.run()) == {"eol": "\n", "joined": "a/b"}


async def test_init_twice_is_refused(runner: Runner) -> None:
    await runner.init(HELLO)
    reply = await runner.init(HELLO)
    assert (reply.status, body(reply)) == (403, {"error": "Cannot initialize the action more than once."})


async def test_missing_main_or_code_is_refused(runner: Runner) -> None:
    for value in ({"main": "main"}, {"code": HELLO}, {"main": "main", "code": 42}, {}):
        reply = await runner.post("/init", {"value": value})
        assert (reply.status, body(reply)) == (403, {"error": "Missing main/no code to execute."})
    assert (await runner.init(HELLO)).status == 200  # a refused /init leaves the runner ready


async def test_code_that_fails_to_load_is_502_and_stops_runner(runner: Runner) -> None:
    reply = await runner.init("function main( {")
    assert reply.status == 502
    assert body(reply)["error"].startswith("Initialization has failed due to: SyntaxError")
    again = await runner.init(HELLO)
    assert (again.status, body(again)) == (403, {"error": "System not ready, status is stopped."})
    run = await runner.run()
    assert (run.status, body(run)) == (403, {"error": "System not initialized."})


async def test_main_that_is_not_a_function_is_502(runner: Runner) -> None:
    reply = await runner.init("const answer = 42", main="answer")
    assert (reply.status, body(reply)) == (
        502, {"error": "Initialization has failed due to: Action entrypoint 'answer' is not a function."})


async def test_truncated_zip_is_refused_with_a_clear_error(runner: Runner) -> None:
    # zip actions themselves: tests/pool/runtime/test_archives.py
    reply = await runner.init("UEsDBAoAAAAAAA==", binary=True)
    assert (reply.status, body(reply)) == (502, {
        "error": "Initialization has failed due to: There was an error uncompressing the action archive: "
                 "it is not a valid zip file (no end of central directory)."})


async def test_init_env_is_exported(runner: Runner) -> None:
    await runner.init("function main() { return {param: process.env.MY_PARAM, ns: process.env.__OW_NAMESPACE} }",
                      env={"MY_PARAM": "secret", "__OW_NAMESPACE": "guest"})
    assert body(await runner.run()) == {"param": "secret", "ns": "guest"}


async def test_runner_settings_are_not_in_the_actions_env(runner: Runner) -> None:
    await runner.init("function main() { "
                      "return {keys: Object.keys(process.env).filter(k => k.startsWith('WHISKLET'))} }")
    assert body(await runner.run()) == {"keys": []}


# --- /run ----------------------------------------------------------------------------------------


async def test_run_before_init_is_refused(runner: Runner) -> None:
    reply = await runner.run({})
    assert (reply.status, body(reply)) == (403, {"error": "System not initialized."})


async def test_async_main_result(runner: Runner) -> None:
    await runner.init("async function main(args) { await new Promise(r => setTimeout(r, 5)); return {n: args.n + 1} }")
    assert body(await runner.run({"n": 41})) == {"n": 42}


async def test_rejected_promise_is_application_error_shape(runner: Runner) -> None:
    await runner.init("function main() { return Promise.reject(new Error('nope')) }")
    reply = await runner.run()
    error = body(reply)["error"]
    assert reply.status == 200
    assert (error["name"], error["message"]) == ("Error", "nope")
    assert error["stack"].startswith("Error: nope\n")


async def test_reject_without_value_gives_empty_error(runner: Runner) -> None:
    await runner.init("function main() { return new Promise((resolve, reject) => reject()) }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (200, {"error": {}})


async def test_rejected_plain_object_keeps_its_fields(runner: Runner) -> None:
    await runner.init("function main() { return Promise.reject({code: 7, why: 'bad input', fn() {}}) }")
    assert body(await runner.run()) == {"error": {"code": 7, "why": "bad input"}}


async def test_sync_throw_is_502_and_stops_runner(runner: Runner) -> None:
    await runner.init("function main() { throw new Error('boom') }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (502, {"error": "An error has occurred: Error: boom"})
    again = await runner.run()
    assert (again.status, body(again)) == (403, {"error": "System not ready, status is stopped."})
    assert "Error: boom" in await runner.log_texts("stderr")


async def test_string_result_is_not_a_dictionary(runner: Runner) -> None:
    await runner.init("function main() { return 'hello' }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (502, {"error": "The action did not return a dictionary."})


async def test_array_result_passes_through(runner: Runner) -> None:
    await runner.init("function main() { return [1, {two: 2}] }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (200, [1, {"two": 2}])


async def test_undefined_result_is_empty_object(runner: Runner) -> None:
    await runner.init("function main() { }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (200, {})


async def test_absent_or_null_value_is_empty_object(runner: Runner) -> None:
    await runner.init("function main(args) { return {args} }")
    assert body(await runner.post("/run", {})) == {"args": {}}
    assert body(await runner.run(None)) == {"args": {}}


async def test_non_object_value_is_refused(runner: Runner) -> None:
    await runner.init(HELLO)
    reply = await runner.run("text")
    assert reply.status == 403
    assert body(reply) == {"error": "Internal system error: the argument must be a dictionary but has type 'string'."}


async def test_run_exports_context_as_ow_env(runner: Runner) -> None:
    await runner.init("function main() { return {id: process.env.__OW_ACTIVATION_ID, "
                      "deadline: process.env.__OW_DEADLINE, name: process.env.__OW_ACTION_NAME, "
                      "number: process.env.__OW_NUMBER} }")
    reply = await runner.run({}, activation_id="abc123", deadline="1717171777000",
                             action_name="/guest/hello", number=5)  # type: ignore[arg-type]
    assert body(reply) == {"id": "abc123", "deadline": "1717171777000", "name": "/guest/hello"}


async def test_unserializable_result_is_internal_error(runner: Runner) -> None:
    await runner.init("function main() { const a = {}; a.self = a; return a }")
    reply = await runner.run()
    assert (reply.status, body(reply)) == (500, {"error": "Internal error."})


# --- HTTP ----------------------------------------------------------------------------------------


async def test_unknown_route_is_bad_request(runner: Runner) -> None:
    for method, path in (("GET", "/init"), ("POST", "/nope"), ("GET", "/")):
        reply = await runner.conn.request(method, path)
        assert (reply.status, body(reply)) == (500, {"error": "Bad request."})


async def test_malformed_json_is_bad_request(runner: Runner) -> None:
    reply = await runner.conn.request("POST", "/init", b"{not json")
    assert (reply.status, body(reply)) == (500, {"error": "Bad request."})


async def test_body_over_48_mb_is_bad_request(runner: Runner) -> None:
    code = "//" + "x" * (48 * 1024 * 1024) + "\nfunction main() {}"
    reply = await runner.init(code)
    assert (reply.status, body(reply)) == (500, {"error": "Bad request."})
    assert (await runner.init(HELLO)).status == 200


async def test_health_answers_without_state_change(runner: Runner) -> None:
    for warm_up in (b"", b'{"warm":"up"}'):
        reply = await runner.conn.request("GET", "/health", warm_up)
        assert (reply.status, body(reply)) == (200, {"ok": True})
    assert (await runner.init(HELLO)).status == 200
    assert (await runner.conn.request("GET", "/health")).status == 200
    assert body(await runner.run({"name": "pool"})) == {"greeting": "Hello pool"}
    assert await runner.log_lines() == []


async def test_socket_is_open_to_every_user_once_it_answers(runner: Runner) -> None:
    assert (await runner.conn.request("GET", "/health")).status == 200
    assert stat.S_IMODE(os.stat(runner.socket_path).st_mode) == 0o666


async def test_idle_connection_outlives_nodes_default_keep_alive(runner: Runner) -> None:
    assert (await runner.conn.request("GET", "/health")).status == 200
    await asyncio.sleep(7)  # Node closes idle connections after 5 s (+ 1 s grace) by default
    assert (await runner.init(HELLO)).status == 200


# --- logs ----------------------------------------------------------------------------------------


async def test_logs_are_timestamped_lines_per_stream(runner: Runner) -> None:
    before = time.time()
    await runner.init("console.log('loading');\n"
                      "function main() { console.log('out %d', 1); console.error('err\\nsecond'); "
                      "process.stdout.write('direct\\n'); process.stderr.write(Buffer.from('bytes\\n')); return {} }")
    await runner.run()
    lines = await runner.log_lines()
    # Two pipes: each stream keeps its order, the two interleave as they arrive.
    assert [text for _, stream, text in lines if stream == "stdout"] == ["loading", "out 1", "direct"]
    assert [text for _, stream, text in lines if stream == "stderr"] == ["err", "second", "bytes"]
    stamps = [stamp for stamp, _, _ in lines]
    assert stamps == sorted(stamps)
    first = calendar.timegm(time.strptime(stamps[0][:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 1 <= first <= time.time() + 1


async def test_partial_lines_are_flushed_at_end_of_run(runner: Runner) -> None:
    await runner.init("function main() { process.stdout.write('no newline'); process.stderr.write('half'); "
                      "process.stderr.write(' and half'); return {} }")
    await runner.run()
    assert await runner.log_texts("stdout") == ["no newline"]
    assert await runner.log_texts("stderr") == ["half and half"]


async def test_multibyte_characters_split_across_writes_are_kept(runner: Runner) -> None:
    await runner.init("function main() { const b = Buffer.from('héllo\\n'); "
                      "process.stdout.write(b.subarray(0, 2)); process.stdout.write(b.subarray(2)); return {} }")
    await runner.run()
    assert await runner.log_texts() == ["héllo"]


@pytest.mark.parametrize("runner", [25], indirect=True)  # the gateway's log limit
async def test_logs_cut_at_limit_with_truncation_line(runner: Runner) -> None:
    await runner.init("function main() { for (let i = 0; i < 5; i++) console.log('0123456789'); "
                      "console.error('after'); return {} }")
    await runner.run()
    assert [(stream, text) for _, stream, text in await runner.log_lines()] == [
        ("stdout", "0123456789"), ("stdout", "0123456789"),
        ("stderr", "Logs were truncated because the total bytes size exceeds the limit of 25 bytes.")]


@pytest.mark.parametrize("runner", [10_000], indirect=True)
async def test_endless_partial_line_is_cut_without_waiting_for_newline(runner: Runner) -> None:
    await runner.init("function main() { "
                      "for (let i = 0; i < 1000; i++) process.stdout.write('x'.repeat(1000)); return {} }")
    await runner.run()
    assert await runner.log_texts() == ["Logs were truncated because the total bytes size exceeds the limit of 10000 bytes."]


async def test_process_exit_keeps_logs_and_breaks_connection(runner: Runner) -> None:
    await runner.init("function main() { "
                      "console.log('before exit'); process.stderr.write('partial'); process.exit(3) }")
    with pytest.raises(RunnerGone):
        await runner.run()
    assert await runner.exit_code() == 3
    assert [(stream, text) for _, stream, text in await runner.log_lines()] == [
        ("stdout", "before exit"), ("stderr", "partial")]


async def test_uncaught_timer_exception_logged_and_breaks_connection(runner: Runner) -> None:
    await runner.init("function main() { console.log('started'); "
                      "setTimeout(() => { throw new Error('boom in timer') }, 10); return new Promise(() => {}) }")
    with pytest.raises(RunnerGone):
        await runner.run()
    assert await runner.exit_code() == 1
    stdout, stderr = await runner.log_texts("stdout"), await runner.log_texts("stderr")
    assert stdout == ["started"]
    assert stderr[0] == "Error: boom in timer"
    assert stderr[1].lstrip().startswith("at ")


async def test_unhandled_rejection_logged_and_breaks_connection(runner: Runner) -> None:
    await runner.init("function main() { Promise.reject(new Error('forgotten')); return new Promise(() => {}) }")
    with pytest.raises(RunnerGone):
        await runner.run()
    assert await runner.exit_code() == 1
    assert "Error: forgotten" in await runner.log_texts("stderr")


async def test_each_run_reply_is_followed_by_the_sentinel_on_both_streams(runner: Runner) -> None:
    await runner.init("function main() { console.log('one'); console.error('two'); return {} }")
    await runner.run()
    assert await runner.log_texts() == ["one", "two"]  # complete: both sentinels came, the runner lives on
    assert runner.process.returncode is None


async def test_a_failed_init_is_followed_by_the_sentinel_on_both_streams(runner: Runner) -> None:
    assert (await runner.init("throw new Error('no init')")).status == 502
    assert any("no init" in text for text in await runner.log_texts("stderr"))
    assert runner.process.returncode is None


async def test_an_action_that_replaces_the_stream_writers_cannot_hold_back_the_sentinel(runner: Runner) -> None:
    await runner.init("process.stdout.write = () => true; process.stderr.write = () => true;\n"
                      "function main() { console.log('swallowed'); return {} }")
    await runner.run()
    assert await runner.log_lines() == []


async def test_a_raw_line_that_looks_stamped_keeps_the_gateways_stamp_in_front(runner: Runner) -> None:
    forged = "2001-01-01T00:00:00.000000000Z stdout: forged"
    await runner.init(f"function main() {{ process.stderr.write({forged!r} + '\\n'); return {{}} }}")
    await runner.run()
    [(stamp, stream, text)] = await runner.log_lines()
    assert (stream, text) == ("stderr", forged)
    assert not stamp.startswith("2001")


def _available(fd: int) -> bytes:
    """What is in a pipe right now, without waiting for more."""
    os.set_blocking(fd, False)
    parts = []
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b"".join(parts)
        if not data:
            return b"".join(parts)
        parts.append(data)


@pytest.mark.parametrize("failed_init", [False, True])
async def test_both_sentinels_are_in_the_pipes_before_the_reply_arrives(failed_init: bool) -> None:
    """The gateway need not wait for the end of an activation's output once it has the reply."""
    directory = tempfile.mkdtemp(prefix="whisklet-runner-")
    socket_path = os.path.join(directory, "runner.sock")
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    process = await asyncio.create_subprocess_exec(
        NODE, str(RUNNER_JS), cwd=directory, env={"WHISKLET_SOCKET": socket_path},
        stdin=asyncio.subprocess.DEVNULL, stdout=stdout_write, stderr=stderr_write,
    )
    os.close(stdout_write)
    os.close(stderr_write)
    try:
        async with asyncio.timeout(10):
            while not os.path.exists(socket_path):
                await asyncio.sleep(0.005)
            conn = await RunnerConnection.open(socket_path)
            code = "throw new Error('no init')" if failed_init else "function main() { console.log('out'); return {} }"
            init = await conn.request("POST", "/init", json.dumps({"value": {"main": "main", "code": code}}).encode())
            if not failed_init:
                assert init.status == 200
                assert (await conn.request("POST", "/run", b'{"value":{}}')).status == 200
            else:
                assert init.status == 502
            # nothing awaited since the reply: only what the runner wrote before it is in the pipes
            stdout, stderr = _available(stdout_read), _available(stderr_read)
            await conn.close()
        assert stdout.endswith(SENTINEL + b"\n") and stderr.endswith(SENTINEL + b"\n")
        assert (b"out\n" in stdout) is not failed_init
    finally:
        process.kill()
        await process.wait()
        os.close(stdout_read)
        os.close(stderr_read)
        shutil.rmtree(directory, ignore_errors=True)
