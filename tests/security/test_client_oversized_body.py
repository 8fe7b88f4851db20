"""A body over the payload limit gets a readable 413 `{error, code}`, not a reset, and is not read to its end."""

from __future__ import annotations

import json
import select
import socket

import httpx
import pytest

from tests.integration.actions import NS, put_action, unique
from tests.security import client_hostile
from tests.security.client_hostile import basic_auth, read_response

pytestmark = pytest.mark.docker

web_action = client_hostile.web_action  # a fixture

PAYLOAD_MAX_BYTES = 1048576  # limits.payload_max_bytes, OpenWhisk's 1 MB
OVER = 4 * PAYLOAD_MAX_BYTES
ENDLESS_BYTES = 64 * PAYLOAD_MAX_BYTES  # an endless body, bounded here so that the test ends on any server


def assert_readable_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["error"].startswith("Request larger than allowed: ")


@pytest.fixture
def action(wsk: httpx.Client) -> str:
    name = unique("big")
    put_action(wsk, name, "function main(p) { return {}; }")
    return name


def test_a_declared_oversized_invoke_body_sent_in_full_gets_a_readable_413(wsk: httpx.Client, action: str):
    for _ in range(3):  # each on its own connection: the server closes it gently after answering
        response = wsk.post(f"{NS}/actions/{action}", params={"blocking": "true"}, content=b" " * OVER,
                            headers={"content-type": "application/json"})
        assert_readable_413(response)


def test_an_endless_chunked_body_is_answered_413_before_its_end_and_not_read_to_it(whisklet, wsk, action: str):
    """A client that reads while it sends (curl does) gets the 413 while still sending: the server
    stopped at the limit instead of reading an endless body; what it still receives is dropped."""
    head = (
        f"POST {NS}/actions/{action}?blocking=true HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {basic_auth(whisklet)}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
    sent, received = 0, b""
    with socket.create_connection(("127.0.0.1", whisklet.port)) as connection:
        connection.sendall(head)
        while sent < ENDLESS_BYTES and not received:
            connection.sendall(chunk)
            sent += 65536
            if select.select([connection], [], [], 0)[0]:
                received = connection.recv(65536)
        response = read_response(connection, received)
    assert sent < ENDLESS_BYTES // 4, f"the server read {sent} bytes before answering"
    assert response.status == 413
    assert response.values("connection") == ["close"]  # the client is told not to send more on it
    assert set(json.loads(response.body)) == {"error", "code"}


def test_a_slow_oversized_body_sent_in_full_still_gets_its_413(whisklet, wsk, action: str):
    """A client that sends the whole body before reading: it is drained while it keeps coming."""
    body = b" " * (2 * PAYLOAD_MAX_BYTES)
    head = (
        f"POST {NS}/actions/{action}?blocking=true HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {basic_auth(whisklet)}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", whisklet.port)) as connection:
        connection.sendall(head)
        for first in range(0, len(body), 256 * 1024):
            connection.sendall(body[first : first + 256 * 1024])
        response = read_response(connection)
    assert response.status == 413
    assert set(json.loads(response.body)) == {"error", "code"}


def test_an_oversized_web_action_body_gets_a_readable_413(whisklet, web_action: str):
    url = f"{whisklet.url}/api/v1/web/guest/default/{web_action}.json"
    response = httpx.post(url, content=b"x" * OVER, headers={"content-type": "text/plain"}, timeout=60)
    assert_readable_413(response)


def test_the_server_still_answers_on_a_new_connection_afterwards(wsk: httpx.Client):
    assert wsk.get("/ping").status_code == 200
