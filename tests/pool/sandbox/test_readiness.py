"""Readiness of a new sandbox: the warm-up `GET /health`, the socket wait and the exit callback."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pool.sandbox.driver import SandboxError
from pool.sandbox.readiness import wait_for_ready_signal, wait_for_runner


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # a short path: sun_path holds 107 bytes
    with tempfile.TemporaryDirectory(prefix="wl-ready-", dir="/tmp") as directory:
        yield Path(directory)


async def serve_health(path: Path, status: int) -> asyncio.Server:
    """A runner stand-in that answers every request with `status` and a small JSON body."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 11\r\n\r\n{{\"ok\":true}}".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(answer, str(path))


async def running() -> str | None:
    return None


async def test_a_runner_answering_200_is_ready(socket_dir: Path) -> None:
    server = await serve_health(socket_dir / "runner.sock", 200)
    async with server:
        await wait_for_runner("s1", socket_dir / "runner.sock", 5.0, running, poll_s=0.001)


async def test_a_runner_answering_another_status_fails_with_that_status(socket_dir: Path) -> None:
    server = await serve_health(socket_dir / "runner.sock", 503)
    async with server:
        with pytest.raises(SandboxError, match="s1 answered its warm-up GET /health with 503"):
            await wait_for_runner("s1", socket_dir / "runner.sock", 5.0, running, poll_s=0.001)


async def test_an_exited_runner_fails_with_the_reason_the_driver_gives(socket_dir: Path) -> None:
    async def exited() -> str:
        return "the runner in s1 exited with code 1 before answering"

    with pytest.raises(SandboxError, match="exited with code 1"):
        await wait_for_runner("s1", socket_dir / "runner.sock", 5.0, exited, poll_s=0.001)


async def test_no_socket_fails_after_the_timeout_and_says_so(socket_dir: Path) -> None:
    with pytest.raises(SandboxError, match=r"s1 did not answer within 0.05 s \(no socket appeared\)"):
        await wait_for_runner("s1", socket_dir / "runner.sock", 0.05, running, poll_s=0.001)


async def test_a_link_to_another_runners_socket_is_never_connected_to(socket_dir: Path) -> None:
    server = await serve_health(socket_dir / "other.sock", 200)
    os.symlink(socket_dir / "other.sock", socket_dir / "runner.sock")
    async with server:
        with pytest.raises(SandboxError, match="no socket appeared"):
            await wait_for_runner("s1", socket_dir / "runner.sock", 0.05, running, poll_s=0.001)


async def test_the_wake_event_cuts_the_pause_between_checks_short(socket_dir: Path) -> None:
    wake = asyncio.Event()
    calls = 0

    async def exited() -> str | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            wake.set()
            return None
        return "gone"

    # a pause of an hour between checks: only the wake event lets the second check happen
    with pytest.raises(SandboxError, match="gone"):
        await asyncio.wait_for(
            wait_for_runner("s1", socket_dir / "runner.sock", 3600.0, exited, poll_s=3600.0, wake=wake), 10.0)


async def test_a_runner_that_signals_on_its_ready_pipe_and_answers_200_is_ready(socket_dir: Path) -> None:
    read_end, write_end = os.pipe()
    server = await serve_health(socket_dir / "runner.sock", 200)
    try:
        async with server:
            os.write(write_end, b"1")
            await wait_for_ready_signal("s1", socket_dir / "runner.sock", 5.0, running, read_end, wake=asyncio.Event())
    finally:
        os.close(read_end)
        os.close(write_end)


async def test_the_ready_pipe_closed_without_its_byte_fails_with_the_reason_the_driver_gives(socket_dir: Path) -> None:
    read_end, write_end = os.pipe()
    exited_now = asyncio.Event()

    async def exited() -> str | None:
        return "the runner in s1 exited before answering (exit code 1)" if exited_now.is_set() else None

    os.close(write_end)
    exited_now.set()
    try:
        with pytest.raises(SandboxError, match=r"exited before answering \(exit code 1\)"):
            await wait_for_ready_signal("s1", socket_dir / "runner.sock", 5.0, exited, read_end, wake=exited_now)
    finally:
        os.close(read_end)


async def test_a_runner_that_never_signals_fails_after_the_timeout_and_says_so(socket_dir: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(SandboxError, match=r"s1 did not answer within 0.05 s \(it never said it listens\)"):
            await wait_for_ready_signal("s1", socket_dir / "runner.sock", 0.05, running, read_end, wake=asyncio.Event())
    finally:
        os.close(read_end)
        os.close(write_end)


async def test_a_ready_byte_with_a_link_instead_of_a_socket_is_refused_unconnected(socket_dir: Path) -> None:
    read_end, write_end = os.pipe()
    server = await serve_health(socket_dir / "other.sock", 200)
    os.symlink(socket_dir / "other.sock", socket_dir / "runner.sock")
    try:
        async with server:
            os.write(write_end, b"1")
            with pytest.raises(SandboxError, match="its socket is not there"):
                await wait_for_ready_signal("s1", socket_dir / "runner.sock", 5.0, running, read_end, wake=asyncio.Event())
    finally:
        os.close(read_end)
        os.close(write_end)
