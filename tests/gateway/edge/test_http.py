"""The bounded HTTP protocol: oversized heads, too many headers, slow clients and garbage get a clear answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from bench.serving import free_port
from gateway.config import ServerConfig
from gateway.edge.http import bounded_http

BOUNDS = ServerConfig(
    max_request_head_bytes=2048, max_request_headers=20, request_head_timeout_s=0.3, request_body_idle_s=0.3
)


async def echo_length(scope, receive, send):
    """Answers 200 with the length of the request body it read; on `/early`, 401 without reading it
    (as the gateway answers a wrong key or a declared oversized body)."""
    if scope["path"] == "/early":
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"no"})
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(http: type[asyncio.Protocol]) -> AsyncIterator[int]:
    """uvicorn serving `echo_length` with the protocol class `http` on a free port; yields the port."""
    port = free_port()
    config = uvicorn.Config(echo_length, host="127.0.0.1", port=port, http=http, ws="none",
                            lifespan="off", log_level="critical")
    server = uvicorn.Server(config)
    served = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):  # polls uvicorn's public `started` flag, bounded
        while not server.started and not served.done():
            await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        await served


@pytest.fixture
async def port():
    async with serving(bounded_http(BOUNDS)) as port:
        yield port


async def exchange(port: int, *parts: bytes, pause_s: float = 0.0) -> tuple[int, dict, bytes]:
    """Send `parts` (pausing between them), read until the server closes; (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, part in enumerate(parts):
            if index and pause_s:
                await asyncio.sleep(pause_s)
            writer.write(part)
            await writer.drain()
        async with asyncio.timeout(10):
            raw = await reader.read()  # until the server closes the connection
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def error_of(headers: dict, body: bytes) -> str:
    error = json.loads(body)
    assert headers["content-type"] == "application/json"
    assert error["code"] == headers["x-request-id"]
    return error["error"]


async def test_a_normal_request_is_served(port):
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
    status, _, body = await exchange(port, request)
    assert (status, json.loads(body)) == (200, {"size": 3})


async def test_a_body_larger_than_the_head_limit_sent_with_its_head_is_served(port):
    body = b"b" * 200_000
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    status, _, answer = await exchange(port, request + body)
    assert (status, json.loads(answer)) == (200, {"size": len(body)})


async def test_headers_past_the_head_limit_are_431(port):
    status, headers, body = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    assert status == 431
    assert error_of(headers, body) == "The request's line and headers are larger than allowed: more than 2048 bytes."


async def test_a_never_ending_header_is_refused_431_as_it_arrives(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send_forever() -> None:
        writer.write(b"GET / HTTP/1.1\r\nX-Big: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(3200):  # 200 MB at most
                writer.write(b"a" * 65536)
                await writer.drain()

    sending = asyncio.create_task(send_forever())
    try:
        async with asyncio.timeout(10):
            status_line = await reader.readline()
    finally:
        sending.cancel()
        writer.close()
    assert status_line.split()[1] == b"431"
    status, _, _ = await exchange(port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == 200  # the server goes on


async def test_a_url_past_the_head_limit_is_414(port):
    status, headers, body = await exchange(port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    assert "URL is longer than allowed" in error_of(headers, body)


async def test_too_many_headers_are_431(port):
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(30))
    status, headers, body = await exchange(port, b"GET / HTTP/1.1\r\n" + many + b"\r\n")
    assert status == 431
    assert error_of(headers, body) == "The request has more headers than allowed: more than 20."


async def test_a_head_that_arrives_too_slowly_is_408(port):
    status, headers, body = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", pause_s=1.0)
    assert status == 408
    assert error_of(headers, body) == "The request's line and headers did not arrive within 0.3 seconds."


async def test_a_connection_that_sends_nothing_is_closed_with_408(port):
    status, _, _ = await exchange(port)
    assert status == 408


async def test_a_body_that_stops_arriving_is_408(port):
    status, headers, body = await exchange(
        port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", b"def", pause_s=1.0
    )
    assert status == 408
    assert error_of(headers, body) == "The request's body stopped arriving for 0.3 seconds."


async def test_bytes_that_are_not_http_are_400(port):
    status, headers, body = await exchange(port, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert status == 400
    assert error_of(headers, body) == "The request is not valid HTTP/1.1."


async def test_keep_alive_requests_each_get_their_own_bounds(port):
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    status, _, body = await exchange(port, request, request + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
                                     pause_s=0.2)
    assert status == 200
    assert body.count(b'{"size": 0}') == 3


async def test_an_answer_sent_before_the_body_was_read_says_the_connection_closes_and_arrives_whole(port):
    body = b"b" * 3_000_000  # far more than the socket buffers: the client is still sending when the answer comes
    request = b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    status, headers, answer = await exchange(port, request + body)
    assert (status, answer) == (401, b"no")
    assert headers["connection"] == "close"


async def test_a_keep_alive_client_goes_on_after_an_early_answer_on_a_new_connection(port):
    """A pooling client (httpx, like the `openwhisk` npm client's agent) must not reuse the connection the
    server is about to close: the early answer tells it so, and its next request is served."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        early = await client.post("/early", content=b"b" * 1_000_000)
        assert (early.status_code, early.headers["connection"]) == (401, "close")
        after = await client.post("/", content=b"abc")
        assert (after.status_code, after.json()) == (200, {"size": 3})


async def test_a_request_whose_body_was_read_keeps_its_connection(port):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        first = await client.post("/", content=b"b" * 100_000)
        assert first.status_code == 200
        assert "connection" not in first.headers
