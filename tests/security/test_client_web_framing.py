"""A web action's `.http` result cannot set HTTP framing: hop-by-hop headers are dropped, 1xx refused."""

from __future__ import annotations

import json

import pytest

from tests.security import client_hostile
from tests.security.client_hostile import raw_exchange

pytestmark = pytest.mark.docker

web_action = client_hostile.web_action  # a fixture

FRAMING = {
    "Content-Length": "5",
    "content-LENGTH": ["1", "2"],
    "Transfer-Encoding": "chunked",
    "Connection": "keep-alive, Upgrade",
    "Keep-Alive": "timeout=600",
    "Upgrade": "h2c",
    "TE": "trailers",
    "Trailer": "X-Smuggled",
    "Proxy-Authenticate": "Basic",
    "proxy-connection": "keep-alive",
}
DROPPED = {name.lower() for name in FRAMING}


def web_request(whisklet, action: str, result: dict) -> bytes:
    body = json.dumps({"response": result}).encode()
    return (
        f"POST /api/v1/web/guest/default/{action}.http HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_framing_and_hop_by_hop_headers_from_an_action_are_dropped_in_any_case(whisklet, web_action: str):
    result = {"statusCode": 200, "headers": {**FRAMING, "X-Kept": ["a", "b"]}, "body": "hello"}
    response = raw_exchange(whisklet.port, web_request(whisklet, web_action, result))
    assert response.status == 200
    assert response.body == b"hello"
    assert response.values("content-length") == ["5"]  # the gateway's own, once, for the body it sends
    assert response.values("x-kept") == ["a", "b"]
    sent = {name.lower() for name, _ in response.headers}
    assert not (sent & (DROPPED - {"content-length", "connection"}))
    assert response.values("connection") in ([], ["close"])  # the gateway's answer to `Connection: close`


@pytest.mark.parametrize("status", [100, 101, 103, "101", 199])
def test_an_informational_status_from_an_action_is_refused_as_an_invalid_http_response(whisklet, web_action, status):
    result = {"statusCode": status, "headers": {"Upgrade": "websocket"}, "body": "after the switch"}
    response = raw_exchange(whisklet.port, web_request(whisklet, web_action, result))
    assert response.status == 400
    assert json.loads(response.body)["error"] == "Response is not valid 'message/http'."
