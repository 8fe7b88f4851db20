"""What `BoundedHttp` relies on in uvicorn's private httptools protocol, pinned: fails when uvicorn changes it.

`gateway/edge/http.py` subclasses `uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`, which is not
uvicorn's public API. It overrides the protocol and parser callbacks, reads the protocol's state
(`transport`, `loop`, `flow`, `headers`, `cycle`, `server_state`, `logger`), writes its own answers with
`STATUS_LINE`, and counts on uvicorn sending every parser failure, an exception raised in a callback
included, to `send_400_response`. uvicorn is pinned exactly in requirements.lock and bounded to the tested
minor version in pyproject.toml; before raising that bound, run this file (and `test_http.py`, which
drives the bounds themselves through real connections).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from gateway.edge.http import BoundedHttp, bounded_http
from tests.gateway.edge.test_http import BOUNDS, exchange, serving

# Each method BoundedHttp overrides, with the parameters uvicorn calls it with.
OVERRIDDEN = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_url": ["self", "url"],
    "on_header": ["self", "name", "value"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
    "send_400_response": ["self", "msg"],
}


def test_every_method_bounded_http_overrides_is_uvicorns_with_the_same_parameters():
    overridden = {name for name, value in vars(BoundedHttp).items() if inspect.isfunction(value)
                  and not name.startswith("_")}
    assert overridden == set(OVERRIDDEN)  # a new override is pinned here too
    for name, parameters in OVERRIDDEN.items():
        assert name in vars(HttpToolsProtocol), f"uvicorn's protocol no longer defines {name}"
        assert list(inspect.signature(getattr(HttpToolsProtocol, name)).parameters) == parameters, name
        assert list(inspect.signature(getattr(BoundedHttp, name)).parameters) == parameters, name


def test_uvicorns_status_lines_are_the_http_1_1_lines_the_refusals_start_with():
    for status in (400, 408, 413, 414, 431):
        assert STATUS_LINE[status] == f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


class Observed(BoundedHttp):
    """BoundedHttp that writes down the uvicorn state it reads, as it reads it."""

    seen: ClassVar[list[dict[str, Any]]] = []  # reset by `observed()` for each test
    refused: ClassVar[list[str]] = []
    counted: ClassVar[list[int]] = []

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.seen.append({
            "loop": self.loop,
            "transport_closing": self.transport.is_closing(),
            "resume_reading": self.flow.resume_reading,
            "headers": list(self.headers),
            "disconnected": self.cycle.disconnected,
            "response_started": self.cycle.response_started,
            "message_event": self.cycle.message_event,
            "more_body": self.cycle.more_body,
            "cycle_transport": self.cycle.transport,
            "send": self.cycle.send,
            "logger": self.logger,
        })

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.counted.append(self.server_state.total_requests)

    def on_url(self, url: bytes) -> None:
        if url == b"/explode":
            raise LookupError("a callback failed")
        super().on_url(url)

    def send_400_response(self, msg: str) -> None:
        self.refused.append(msg)
        super().send_400_response(msg)


def observed() -> type[Observed]:
    Observed.seen, Observed.refused, Observed.counted = [], [], []
    configured = bounded_http(BOUNDS)
    return type("ObservedBoundedHttp", (Observed,), {key: getattr(configured, key) for key in (
        "max_head_bytes", "max_headers", "head_timeout_s", "body_idle_s")})


async def test_the_protocol_state_bounded_http_reads_is_there_during_a_real_request():
    async with serving(observed()) as port:
        request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        status, _, body = await exchange(port, request, request + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert (status, body.count(b'{"size": 2}'), body.count(b'{"size": 0}')) == (200, 2, 1)
    first = Observed.seen[0]
    assert isinstance(first["loop"], asyncio.AbstractEventLoop) and first["transport_closing"] is False
    assert callable(first["resume_reading"]) and isinstance(first["logger"], logging.Logger)
    assert first["headers"] == [(b"host", b"x"), (b"content-length", b"2")]
    assert (first["disconnected"], first["response_started"]) == (False, False)
    assert isinstance(first["message_event"], asyncio.Event)
    # An early answer's `connection: close` and gentle close (`_early_answer_closes`) rest on these.
    assert first["more_body"] is True and first["cycle_transport"] is not None and callable(first["send"])
    assert list(inspect.signature(RequestResponseCycle.send).parameters) == ["self", "message"]
    assert "if not self.keep_alive:\n                    self.transport.close()" in inspect.getsource(RequestResponseCycle.send)
    assert Observed.counted == [1, 2, 3]  # uvicorn counts each response in on_response_complete


async def test_an_exception_raised_in_a_parser_callback_reaches_send_400_response():
    async with serving(observed()) as port:
        status, _, _ = await exchange(port, b"GET /explode HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400
    assert Observed.refused == ["Invalid HTTP request received."]
