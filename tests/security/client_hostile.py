"""What the hostile-client tests share: raw HTTP exchanges, timing, and waiting for a prewarmed sandbox.

Fixtures live here, not in a conftest, so that they do not collide with the other hostile suites of
`tests/security/`; a test module imports the ones it uses.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.serving import ServedWhisklet, wait_until
from tests.integration.actions import NS, put_action, unique


@dataclass
class RawResponse:
    """A response as it came off the socket: every header line kept, repeated ones too."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def raw_exchange(port: int, request: bytes, *, read_timeout_s: float = 30.0) -> RawResponse:
    """Send `request` as is on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request)
        connection.settimeout(read_timeout_s)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return parse_response(received)


def read_response(connection: socket.socket, received: bytes = b"", timeout_s: float = 30.0) -> RawResponse:
    """Read one response from `connection` (after `received`): its head, then its Content-Length."""
    connection.settimeout(timeout_s)
    while b"\r\n\r\n" not in received:
        more = connection.recv(65536)
        if not more:
            break
        received += more
    length = parse_response(received).values("content-length")
    while length and len(received.partition(b"\r\n\r\n")[2]) < int(length[0]):
        more = connection.recv(65536)
        if not more:
            break
        received += more
    return parse_response(received)


def parse_response(received: bytes) -> RawResponse:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
    return RawResponse(status, headers, body)


def basic_auth(whisklet: ServedWhisklet) -> str:
    """The `Authorization` header value of the server's `guest` key, for raw requests."""
    assert whisklet.auth is not None
    return "Basic " + base64.b64encode(":".join(whisklet.auth).encode()).decode()


def credentials_of(client: httpx.Client) -> tuple[str, str]:
    """The (uuid, key) a client authenticates with, as its Basic auth sends them."""
    request = next(client.auth.sync_auth_flow(client.build_request("GET", "/")))
    uuid, _, key = base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
    return uuid, key


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds `call` took, what it returned)."""
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def idle_sandboxes(whisklet: ServedWhisklet) -> int:
    text = httpx.get(f"{whisklet.url}/metrics", timeout=30).text
    found = re.search(r'^whisklet_pool_containers\{state="prewarmed"\} ([0-9.e+]+)$', text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def wait_for_prewarmed(whisklet: ServedWhisklet, timeout_s: float = 60.0) -> None:
    """Wait (bounded) until the pool has a prewarmed sandbox, so an invoke measures no cold start."""
    assert wait_until(lambda: idle_sandboxes(whisklet) >= 1, timeout_s), "the pool never had an idle sandbox"


WEB_ACTION = "function main(params) { return params.response; }"


@pytest.fixture
def web_action(wsk: httpx.Client) -> Iterator[str]:
    """A web action (`default` package) that answers the `response` parameter's value as its result."""
    name = unique("echo")
    put_action(wsk, name, WEB_ACTION, annotations=[{"key": "web-export", "value": True}])
    yield name
    wsk.delete(f"{NS}/actions/{name}")
