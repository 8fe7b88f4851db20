"""A client's `X-Request-ID` is repeated (headers, error bodies, log lines) only when it is plain."""

from __future__ import annotations

import re

import pytest

from tests.security.client_hostile import raw_exchange

pytestmark = pytest.mark.docker

GENERATED = re.compile(r"\A[0-9a-f]{32}\Z")
HOSTILE = {
    "non-ASCII bytes": b"\xff\xfe\xfd",
    "spaces (a forged log line)": b"abc request GET /api/v1 failed (request id admin)",
    "over 64 characters": b"r" * 4000,
    "a control character": b"a\tb",
}


@pytest.mark.parametrize("sent", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_request_id_is_replaced_by_a_generated_one_in_headers_and_bodies(whisklet, sent: bytes):
    request = (
        b"GET /api/v1/namespaces/_/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: " + sent
        + b"\r\nConnection: close\r\n\r\n"
    )
    response = raw_exchange(whisklet.port, request)
    assert response.status == 401  # no credentials: an error body that names the request id
    [echoed] = response.values("x-request-id")
    assert GENERATED.match(echoed), echoed[:80]
    assert sent.decode("latin-1") not in response.body.decode("latin-1")
    assert echoed in response.body.decode()


def test_a_plain_request_id_is_kept(whisklet):
    request = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: trace-42.a:b_c\r\nConnection: close\r\n\r\n"
    assert raw_exchange(whisklet.port, request).values("x-request-id") == ["trace-42.a:b_c"]
