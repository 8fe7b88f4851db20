"""The host's HTTP/1.1 client for runners, against scripted servers on a Unix socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pool.runner.client import RunnerConnection, RunnerGone, RunnerReply


class ScriptedRunner:
    """A Unix-socket server that answers each request on a connection with the next scripted bytes,
    then closes the connection when the script runs out."""

    def __init__(self, socket_path: str, replies: list[bytes]) -> None:
        self.socket_path = socket_path
        self.replies = replies
        self.requests: list[tuple[bytes, bytes]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._serve, self.socket_path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for reply in self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                self.requests.append((head, await reader.readexactly(length)))
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[bytes]], Awaitable[ScriptedRunner]]]:
    directory = tempfile.mkdtemp(prefix="whisklet-client-")
    servers: list[ScriptedRunner] = []

    async def start(replies: list[bytes]) -> ScriptedRunner:
        server = ScriptedRunner(os.path.join(directory, f"runner{len(servers)}.sock"), replies)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()
    shutil.rmtree(directory, ignore_errors=True)


def ok(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def request(conn: RunnerConnection, *args: object, **kwargs: object) -> RunnerReply:
    async with asyncio.timeout(5):
        return await conn.request(*args, **kwargs)  # type: ignore[arg-type]


async def test_request_sends_host_type_and_length_and_keeps_the_connection(serve) -> None:
    server = await serve([ok(b'{"OK":true}'), ok(b'{"a":1}', "502 Bad Gateway")])
    conn = await RunnerConnection.open(server.socket_path)
    first = await request(conn, "POST", "/init", b'{"value":{}}')
    second = await request(conn, "POST", "/run", b"{}")
    await conn.close()
    assert first == RunnerReply(200, b'{"OK":true}')
    assert second == RunnerReply(502, b'{"a":1}')
    head, body = server.requests[0]
    assert head.startswith(b"POST /init HTTP/1.1\r\n")
    assert b"\r\nHost: localhost\r\n" in head
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert b"\r\nContent-Length: 12\r\n" in head
    assert body == b'{"value":{}}'


async def test_chunked_reply_is_reassembled(serve) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n{\"a\":\r\n3;ext=1\r\n12}\r\n0\r\nX-Trailer: t\r\n\r\n")
    server = await serve([chunked, ok(b"{}")])
    conn = await RunnerConnection.open(server.socket_path)
    assert await request(conn, "GET", "/health") == RunnerReply(200, b'{"a":12}')
    assert await request(conn, "GET", "/health") == RunnerReply(200, b"{}")
    await conn.close()


async def test_reply_longer_than_max_body_is_cut_and_connection_stays_usable(serve) -> None:
    big = b"x" * 200_000
    server = await serve([ok(big), ok(b"{}")])
    conn = await RunnerConnection.open(server.socket_path)
    reply = await request(conn, "POST", "/run", max_body_bytes=10)
    assert (reply.body, reply.size, reply.truncated) == (b"x" * 10, 200_000, True)
    assert (await request(conn, "POST", "/run", max_body_bytes=10)) == RunnerReply(200, b"{}")
    await conn.close()


async def test_chunked_reply_longer_than_max_body_is_cut(serve) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n"
    server = await serve([chunked])
    conn = await RunnerConnection.open(server.socket_path)
    reply = await request(conn, "POST", "/run", max_body_bytes=6)
    assert (reply.body, reply.size) == (b"abcdef", 8)
    await conn.close()


async def test_reply_within_max_body_is_whole(serve) -> None:
    server = await serve([ok(b"0123456789")])
    conn = await RunnerConnection.open(server.socket_path)
    reply = await request(conn, "POST", "/run", max_body_bytes=10)
    assert (reply.body, reply.size, reply.truncated) == (b"0123456789", None, False)
    await conn.close()


async def test_connection_close_reply_makes_the_connection_unusable(serve) -> None:
    server = await serve([ok(b"{}", extra="Connection: close\r\n"), ok(b"{}")])
    conn = await RunnerConnection.open(server.socket_path)
    assert (await request(conn, "GET", "/health")).status == 200
    with pytest.raises(RunnerGone):
        await request(conn, "GET", "/health")
    await conn.close()


async def test_reply_without_length_is_read_to_the_end_of_the_connection(serve) -> None:
    server = await serve([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"late\":true}"])
    conn = await RunnerConnection.open(server.socket_path)
    assert await request(conn, "POST", "/run") == RunnerReply(200, b'{"late":true}')
    with pytest.raises(RunnerGone):
        await request(conn, "POST", "/run")
    await conn.close()


async def test_missing_socket_raises_runner_gone() -> None:
    with pytest.raises(RunnerGone, match="cannot connect"):
        await RunnerConnection.open("/nonexistent/whisklet/runner.sock")


async def test_refused_connection_raises_runner_gone() -> None:
    directory = tempfile.mkdtemp(prefix="whisklet-client-")
    path = os.path.join(directory, "runner.sock")
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(path)  # bound but not listening: connections are refused
    try:
        with pytest.raises(RunnerGone, match="cannot connect"):
            await RunnerConnection.open(path)
    finally:
        bound.close()
        shutil.rmtree(directory, ignore_errors=True)


async def test_runner_closing_without_reply_raises_runner_gone(serve) -> None:
    server = await serve([])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone, match="went away during POST /run"):
        await request(conn, "POST", "/run", b"{}")
    await conn.close()


async def test_eof_in_the_middle_of_the_body_raises_runner_gone(serve) -> None:
    server = await serve([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\""])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone):
        await request(conn, "POST", "/run")
    with pytest.raises(RunnerGone):
        await request(conn, "POST", "/run")
    await conn.close()


async def test_garbage_reply_raises_runner_gone(serve) -> None:
    server = await serve([b"SSH-2.0-OpenSSH\r\n\r\n"])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone, match="unreadable reply"):
        await request(conn, "GET", "/health")
    await conn.close()


async def test_close_twice_is_harmless(serve) -> None:
    server = await serve([ok(b"{}")])
    conn = await RunnerConnection.open(server.socket_path)
    await conn.close()
    await conn.close()
    with pytest.raises(RunnerGone):
        await request(conn, "GET", "/health")


async def test_a_reply_head_with_too_many_headers_raises_runner_gone(serve) -> None:
    server = await serve([b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 1000 + b"Content-Length: 2\r\n\r\n{}"])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone, match="header lines"):
        await request(conn, "POST", "/run")
    await conn.close()


async def test_a_reply_head_longer_than_64_kib_raises_runner_gone(serve) -> None:
    server = await serve([b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\n{}"])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone):
        await request(conn, "POST", "/run")
    await conn.close()


async def test_endless_chunked_trailers_raise_runner_gone(serve) -> None:
    trailers = b"X-T: 1\r\n" * 20_000
    server = await serve([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n" + trailers + b"\r\n"])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone, match="trailers"):
        await request(conn, "POST", "/run")
    await conn.close()


@pytest.mark.parametrize("size_line", [b"-5", b"1" * 40, b"zz", b""])
async def test_a_bad_chunk_size_raises_runner_gone(serve, size_line: bytes) -> None:
    server = await serve([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\n{}\r\n0\r\n\r\n"])
    conn = await RunnerConnection.open(server.socket_path)
    with pytest.raises(RunnerGone):
        await request(conn, "POST", "/run")
    await conn.close()


async def test_close_after_a_cut_short_request_does_not_wait_for_a_runner_that_stopped_reading() -> None:
    directory = tempfile.mkdtemp(prefix="whisklet-client-")
    path = os.path.join(directory, "runner.sock")
    accepted: list[asyncio.StreamWriter] = []
    server = await asyncio.start_unix_server(lambda r, w: accepted.append(w), path)  # never reads
    try:
        conn = await RunnerConnection.open(path)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await conn.request("POST", "/run", b"x" * (32 * 1024 * 1024))
        async with asyncio.timeout(2):
            await conn.close()
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        shutil.rmtree(directory, ignore_errors=True)


async def held_connection(path: str) -> tuple[RunnerConnection, asyncio.StreamWriter, asyncio.Server]:
    """A connection to a server that only holds its end: (the connection, the server's end, the server)."""
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue(maxsize=1)
    server = await asyncio.start_unix_server(lambda r, w: accepted.put_nowait(w), path)
    conn = await RunnerConnection.open(path)
    async with asyncio.timeout(5):
        return conn, await accepted.get(), server


@pytest.mark.parametrize("runner_does", ["nothing", "close", "send unasked"])
async def test_a_kept_connection_is_quiet_until_the_runner_closes_it_or_sends_unasked(runner_does: str) -> None:
    directory = tempfile.mkdtemp(prefix="whisklet-client-")
    conn, end, server = await held_connection(os.path.join(directory, "runner.sock"))
    try:
        if runner_does == "close":  # as a killed runner's kernel does: at once, before the loop reads it
            end.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        elif runner_does == "send unasked":
            end.write(b"HTTP/1.1 200 OK\r\n")  # sent at once: nothing is queued before it
        assert conn.quiet() is (runner_does == "nothing")
        await conn.close()
        assert not conn.quiet()
    finally:
        server.close()
        end.close()
        shutil.rmtree(directory, ignore_errors=True)
