"""HTTP/1.1 on httptools with the bounds uvicorn lacks: request-head size, header count, and time to send.

uvicorn's httptools protocol accepts a request head of any size and waits for a slow client forever;
a few connections trickling bytes would hold the gateway's memory and sockets. This protocol answers
such requests itself, in OpenWhisk's `{"error", "code"}` envelope, and closes the connection:

| What the client does | Answer |
|---|---|
| a request line plus headers over `max_head_bytes` | 431 (414 when the URL alone is too long) |
| more than `max_headers` headers | 431 |
| no complete request head within `head_timeout_s` of connecting or of its first byte | 408 |
| a pause longer than `body_idle_s` while sending a body | 408 |
| bytes that are not HTTP | 400 |

An answer sent before the request's body was read (a 413 for a body over the limit, a 401, a 404) says
`connection: close` and is followed by a gentle close, so the client reads it instead of a connection
reset and sends its next request on a new connection: see `BoundedHttp` 3.
"""

from __future__ import annotations

import secrets
from asyncio import TimerHandle, Transport
from collections.abc import Awaitable, Callable
from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from gateway.config import ServerConfig
from gateway.wire import errors
from gateway.wire.models import ErrorBody, encoder

_LINGER_S = 5.0  # closed after this long without a byte from the client ...
_LINGER_MAX_S = 60.0  # ... or this long in all ...
_LINGER_MAX_BYTES = 64 * 1024 * 1024  # ... or once it sent this much more


class _Refused(Exception):
    """Raised from a parser callback: the request is answered with `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BoundedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded; `bounded_http` makes one with the configured limits.

    1. Counted per request: URL and header bytes (names, values and separators) and headers. The raw
       bytes of a head are counted too, before the parser sees them: the parser keeps a header value
       it has not finished in memory, so a never-ending one is refused as it arrives.
    2. One timer per connection at most: the head deadline (from connecting, or from a request's
       first byte) until the head is complete, then the body idle timer, re-armed by every read,
       until the body is complete. Between requests uvicorn's keep-alive timeout applies.
    3. A refused connection is closed gently: the answer and a FIN are sent, what the client still
       sends is read and dropped until it pauses for `_LINGER_S`, or for `_LINGER_MAX_S` or
       `_LINGER_MAX_BYTES` in all, then the socket is closed. So the client reads the answer instead of a
       reset. The same happens when the app has
       answered a request whose body it did not read to the end (a 413, a 401): closing a socket with
       unread bytes would send a reset, and keeping it would mean reading the rest of the body. Such an
       answer says `connection: close` when it starts before the body has arrived.
    """

    max_head_bytes = 65536
    max_headers = 100
    head_timeout_s = 10.0
    body_idle_s = 30.0

    _timer: TimerHandle | None = None
    _head_bytes = 0
    _head_raw = 0  # bytes received since the current head began, counted before parsing
    _head_tail = b""  # the last bytes of the head so far, to find a terminator split across reads
    _in_request_line = True
    _refusal: _Refused | None = None
    _in_body = False
    _lingering = False
    _lingered_bytes = 0
    _linger_deadline = 0.0

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout_s, errors.request_head_timeout(self.head_timeout_s))

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._lingered_bytes += len(data)
            if self._lingered_bytes > _LINGER_MAX_BYTES:
                self.transport.close()
            else:
                self._linger()
            return
        if self._in_body:
            self._arm(self.body_idle_s, errors.request_body_timeout(self.body_idle_s))
        elif self._head_raw + len(data) > self.max_head_bytes:
            room = max(self.max_head_bytes - self._head_raw, 0)
            if b"\r\n\r\n" not in self._head_tail + data[: room + 4]:
                if self._in_request_line and b"\n" not in data[:room]:
                    self._answer_and_close(414, errors.url_too_long(self.max_head_bytes))
                else:
                    self._answer_and_close(431, errors.head_too_large(self.max_head_bytes))
                return
        else:
            self._head_raw += len(data)
            self._head_tail = (self._head_tail + data)[-3:]
            self._in_request_line = self._in_request_line and b"\n" not in data
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_body = False
        self._arm(self.head_timeout_s, errors.request_head_timeout(self.head_timeout_s))

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self.max_head_bytes:
            self._refuse(414, errors.url_too_long(self.max_head_bytes))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.max_head_bytes:
            self._refuse(431, errors.head_too_large(self.max_head_bytes))
        if len(self.headers) >= self.max_headers:
            self._refuse(431, errors.too_many_headers(self.max_headers))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        self._in_body = True
        self._arm(self.body_idle_s, errors.request_body_timeout(self.body_idle_s))
        if self.cycle is not None:
            self.cycle.send = self._early_answer_closes(self.cycle)  # type: ignore[method-assign,assignment]

    def _early_answer_closes(self, cycle: RequestResponseCycle) -> Callable[[ASGISendEvent], Awaitable[None]]:
        """`cycle.send`, except that an answer started before the request's body has arrived to its end
        says `connection: close` (so a pooling client does not send its next request on this
        connection) and ends with a gentle close instead of uvicorn's immediate one (a reset)."""
        send = cycle.send

        async def send_closing_early(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and not cycle.response_started and cycle.more_body:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
                cycle.transport = cast(Transport, _ClosingGently(cycle.transport, self._close_gently))
            await send(message)

        return send_closing_early

    def on_message_complete(self) -> None:
        self._in_body = False
        self._head_raw, self._head_tail, self._in_request_line = 0, b"", True
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """After each response: a request body still arriving means the app answered without reading
        it all (a 413 before the body, a 401); the connection is then closed gently instead of kept."""
        if self._lingering:  # the answer was early (`_early_answer_closes`): the close is under way
            self.server_state.total_requests += 1
            return
        if self._in_body and not self.transport.is_closing():
            if self.cycle is not None:
                self.cycle.disconnected = True
            self.server_state.total_requests += 1
            self._close_gently()
            return
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """Every parser failure ends here (a callback's exception included): answer it and close."""
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            refusal = _Refused(400, errors.NOT_HTTP)
        else:
            self.logger.warning("refused a request: %s", refusal.message)
        self._answer_and_close(refusal.status, refusal.message)

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = _Refused(status, message)
        raise self._refusal

    def _arm(self, delay_s: float, message: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay_s, self._too_slow, message)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self, message: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_body and self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # the app answered already; the client is still trickling a body
            return
        self._answer_and_close(408, message)

    def _answer_and_close(self, status: int, message: str) -> None:
        if self.cycle is not None and self._in_body:
            self.cycle.disconnected = True  # the app, if running, stops reading and writing
            self.cycle.message_event.set()
        request_id = secrets.token_hex(16)
        body = encoder.encode(ErrorBody(error=message, code=request_id))
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self._close_gently()

    def _close_gently(self) -> None:
        """Send a FIN after what is written, drop what the client still sends (bounded), then close."""
        self._disarm()
        self._lingering = True
        self._linger_deadline = self.loop.time() + _LINGER_MAX_S
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger()
        else:
            self.transport.close()

    def _linger(self) -> None:
        """(Re)arm the close of a lingering connection: `_LINGER_S` from now, never past its deadline."""
        self._disarm()
        delay_s = min(_LINGER_S, self._linger_deadline - self.loop.time())
        self._timer = self.loop.call_later(max(delay_s, 0.0), self.transport.close)


class _ClosingGently:
    """A connection's transport as one response cycle sees it: its `close` is the protocol's gentle close."""

    def __init__(self, transport: Transport, close_gently: Callable[[], None]) -> None:
        self._transport = transport
        self._close_gently = close_gently

    def close(self) -> None:
        self._close_gently()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def bounded_http(server: ServerConfig) -> type[BoundedHttp]:
    """The protocol class uvicorn should use, with the `[server]` section's bounds."""
    return type(
        "ConfiguredBoundedHttp",
        (BoundedHttp,),
        {
            "max_head_bytes": server.max_request_head_bytes,
            "max_headers": server.max_request_headers,
            "head_timeout_s": server.request_head_timeout_s,
            "body_idle_s": server.request_body_idle_s,
        },
    )
