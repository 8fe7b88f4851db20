"""The Docker driver's output FIFOs (pool/sandbox/docker/output.py) with the real runner, run with the host's node.

No engine needed: the runner is started as the container would start it, with `WHISKLET_OUTPUT_DIR`
naming the directory where the FIFOs were made, and its own stdout and stderr pipes (the engine's, in a
container) are checked to receive nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pool.runner.client import RunnerConnection
from pool.runner.logs import LogCollector
from pool.runtime.nodejs.files import RUNNER_UID
from pool.sandbox.docker.output import open_output_fifos
from pool.sandbox.output import PipeOutput
from tests.pool.runtime.test_runner import NODE, RUNNER_JS, connect_when_listening, end_runner


@dataclass
class FifoRunner:
    process: asyncio.subprocess.Process
    directory: Path
    output: PipeOutput
    conn: RunnerConnection

    async def activate(self, code: str) -> tuple[dict[str, object], list[str], bool]:
        """/init and /run `code`'s main; the /run reply, the log lines' stream and text, whether complete."""
        logs = LogCollector(self.output, 1 << 20)
        async with asyncio.timeout(20):
            init = await self.conn.request("POST", "/init", json.dumps({"value": {"main": "main", "code": code}}).encode())
            assert init.status == 200, init
            reply = await self.conn.request("POST", "/run", b'{"value":{}}')
        lines, complete = await logs.finish(5.0)
        return json.loads(reply.body), [line[31:] for line in lines], complete


@pytest.fixture
async def fifo_runner() -> AsyncIterator[FifoRunner]:
    # Not tmp_path: a Unix socket path must stay under 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="whisklet-fifo-"))
    output = PipeOutput(*open_output_fifos(directory))
    socket_path = str(directory / "runner.sock")
    env = {"WHISKLET_SOCKET": socket_path, "WHISKLET_OUTPUT_DIR": str(directory), "PATH": os.environ.get("PATH", "")}
    process = await asyncio.create_subprocess_exec(
        NODE, str(RUNNER_JS), cwd=directory, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        conn = await connect_when_listening(socket_path, process)
        runner = FifoRunner(process, directory, output, conn)
        yield runner
        await conn.close()
    finally:
        await end_runner(process, output, directory)


async def engine_side_output(runner: FifoRunner) -> bytes:
    """What reached the runner's own stdout and stderr (the engine's pipes in a container), once it exited."""
    runner.process.kill()
    out, err = await runner.process.communicate()
    return out + err


async def test_the_actions_output_its_direct_writes_and_its_childrens_reach_the_gateway_through_the_fifos(
    fifo_runner: FifoRunner,
) -> None:
    code = """
    const fs = require('fs');
    const { execFileSync } = require('child_process');
    function main() {
      console.log('console.log');
      fs.writeSync(1, 'written to descriptor 1\\n');
      execFileSync(process.execPath, ['-e', 'console.error("from a child process")'], { stdio: 'inherit' });
      console.error('console.error');
      return { ok: true };
    }
    """
    result, lines, complete = await fifo_runner.activate(code)
    assert result == {"ok": True}
    assert complete
    assert [line for line in lines if line.startswith("stdout: ")] == [
        "stdout: console.log", "stdout: written to descriptor 1"]
    assert [line for line in lines if line.startswith("stderr: ")] == [
        "stderr: from a child process", "stderr: console.error"]
    assert await engine_side_output(fifo_runner) == b""


async def test_the_action_does_not_see_the_output_directory_setting(fifo_runner: FifoRunner) -> None:
    result, _, complete = await fifo_runner.activate(
        "function main() { return { setting: process.env.WHISKLET_OUTPUT_DIR || null }; }")
    assert result == {"setting": None}
    assert complete


def test_the_fifos_are_made_for_the_runner_and_opened_without_waiting_for_a_writer(tmp_path: Path) -> None:
    stdout_fd, stderr_fd = open_output_fifos(tmp_path)
    try:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr", "stdout"]
        for fd in (stdout_fd, stderr_fd):
            assert stat.S_ISFIFO(os.fstat(fd).st_mode)
            assert not os.get_blocking(fd)
        for name in ("stdout", "stderr"):
            assert (tmp_path / name).stat().st_uid == RUNNER_UID or os.geteuid() != 0
    finally:
        os.close(stdout_fd)
        os.close(stderr_fd)
