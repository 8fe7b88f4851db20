"""A minimal HTTP/1.1 client for talking to a runner over its Unix socket (the activation hot path).

httpx costs ~1.5 ms a request over the same socket; this costs ~0.2 ms (DESIGN.md §9).
"""

from __future__ import annotations

import asyncio
import select
from dataclasses import dataclass

_DRAIN_CHUNK = 1 << 16
# A runner's reply head (and each chunk-size line, and all its trailers together) fits in this; the
# stream reader's own limit enforces it without buffering more.
MAX_HEAD_BYTES = 1 << 16
MAX_HEADERS = 64
_MAX_CHUNK_SIZE_DIGITS = 15  # chunks under 1 PiB: anything longer is not a length
_GONE = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


class RunnerGone(Exception):
    """The runner cannot be talked to any more: refused, reset, closed early, or an unreadable reply."""


@dataclass(frozen=True, slots=True)
class RunnerReply:
    """One reply from a runner.

    `body` is the whole body, unless the request passed `max_body_bytes` and the body was longer:
    then `body` holds its first `max_body_bytes` bytes and `size` its full length.
    """

    status: int
    body: bytes
    size: int | None = None

    @property
    def truncated(self) -> bool:
        return self.size is not None and self.size > len(self.body)


class RunnerConnection:
    """A kept-alive HTTP/1.1 connection to one runner.

    1. Requests may be pipelined (HTTP/1.1): `send` writes one without waiting for anything, `reply`
       reads the reply to the oldest request not yet answered; `request` is the two in one. Replies
       are read one at a time, in the order the requests were sent (a runner answers in that order).
    2. Every failure to talk to the runner raises `RunnerGone`; after one, the connection is unusable.
       The reply is the tenant's: its head is bounded (`MAX_HEAD_BYTES`, `MAX_HEADERS`, trailers within
       `MAX_HEAD_BYTES` too), and its body is kept only up to `max_body_bytes`, the rest counted.
    3. Nothing here times out: callers wrap calls in `asyncio.timeout`. A cancelled request leaves the
       connection unusable, so close it.
    4. Calling `close` again, or after the runner died, is harmless; it never waits on the runner
       (a connection left unusable is aborted, not flushed) nor for the transport to finish closing.
    5. `quiet` asks the kernel, not the event loop, whether a connection kept idle is still good.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._usable = True
        self._unanswered = 0  # requests sent whose reply has not been read

    @classmethod
    async def open(cls, socket_path: str) -> RunnerConnection:
        try:
            reader, writer = await asyncio.open_unix_connection(socket_path, limit=MAX_HEAD_BYTES)
        except OSError as exc:
            raise RunnerGone(f"cannot connect to the runner at {socket_path}: {exc}") from exc
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", max_body_bytes: int | None = None
    ) -> RunnerReply:
        self.send(method, path, body)
        try:
            await self._writer.drain()
        except _GONE as exc:
            self._usable = False
            raise RunnerGone(f"the runner went away during {method} {path}: {exc!r}") from exc
        return await self.reply(method, path, max_body_bytes)

    def send(self, method: str, path: str, body: bytes = b"") -> None:
        """Write a request without waiting for the runner to read it or answer it; the transport sends
        it as the socket takes it (the body is in memory already). Read its reply with `reply`."""
        if not self._usable or self._reader.at_eof():
            raise RunnerGone("the connection to the runner was closed")
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        self._writer.write(head + body)
        self._unanswered += 1

    async def reply(self, method: str, path: str, max_body_bytes: int | None = None) -> RunnerReply:
        """The reply to the oldest request sent and not yet answered (`method` and `path` name it in errors)."""
        if not self._usable or not self._unanswered:
            self._usable = False
            raise RunnerGone(f"no reply to wait for to {method} {path}: the connection was closed or nothing was sent")
        self._usable = False  # until a complete reply proves otherwise
        try:
            reply, keep_alive = await self._read_reply(max_body_bytes)
        except _GONE as exc:
            raise RunnerGone(f"the runner went away during {method} {path}: {exc!r}") from exc
        except ValueError as exc:
            raise RunnerGone(f"the runner sent an unreadable reply to {method} {path}: {exc}") from exc
        self._unanswered -= 1
        self._usable = keep_alive
        return reply

    def quiet(self) -> bool:
        """Whether the connection can take a request: the runner has not closed its end nor sent
        anything unasked. Asked of the kernel (a zero-timeout poll), so a runner killed a moment ago is
        seen as gone before the event loop has read its end of the stream."""
        if not self._usable or self._unanswered or self._reader.at_eof() or self._writer.is_closing():
            return False
        poll = select.poll()
        poll.register(self._writer.get_extra_info("socket").fileno(), select.POLLIN | select.POLLRDHUP)
        return not poll.poll(0)

    async def close(self) -> None:
        # Not awaiting the transport's own close: it ends on the next turn of the event loop, and an
        # activation need not wait for it (its reply and its logs are in already).
        if self._usable and not self._unanswered:
            self._writer.close()
        else:  # a request was cut short or is still unanswered: what is left unsent must not hold the close up
            self._writer.transport.abort()
        self._usable = False

    async def _read_reply(self, max_body_bytes: int | None) -> tuple[RunnerReply, bool]:
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        if len(lines) > MAX_HEADERS + 1:
            raise ValueError(f"more than {MAX_HEADERS} header lines")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {lines[0][:80]!r}")
        status = int(rest[:3])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get(b"connection", b"").lower() != b"close" and version != b"HTTP/1.0"
        limit = max_body_bytes if max_body_bytes is not None else -1

        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body, size = await self._read_chunked(limit)
        elif b"content-length" in headers:
            size = int(headers[b"content-length"])
            if size < 0:
                raise ValueError(f"negative Content-Length {size}")
            body = await self._read_exactly(size, limit)
        elif status in (204, 304) or 100 <= status < 200:
            body, size = b"", 0
        else:  # delimited by the end of the connection
            body, size = await self._read_to_eof(limit)
            keep_alive = False
        return RunnerReply(status, body, size if len(body) < size else None), keep_alive

    async def _read_exactly(self, size: int, limit: int) -> bytes:
        """Read `size` bytes, keeping only the first `limit` when `limit` is not -1."""
        if limit < 0 or size <= limit:
            return await self._reader.readexactly(size)
        kept = await self._reader.readexactly(limit)
        left = size - limit
        while left:
            left -= len(await self._reader.readexactly(min(left, _DRAIN_CHUNK)))
        return kept

    async def _read_chunked(self, limit: int) -> tuple[bytes, int]:
        parts: list[bytes] = []
        kept = size = 0
        while True:
            digits = (await self._reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
            if not 0 < len(digits) <= _MAX_CHUNK_SIZE_DIGITS or digits.startswith((b"-", b"+")):
                raise ValueError(f"bad chunk size {digits[:20]!r}")
            chunk_size = int(digits, 16)
            if chunk_size == 0:
                break
            room = chunk_size if limit < 0 else max(0, min(chunk_size, limit - kept))
            data = await self._read_exactly(chunk_size, room)
            if data:
                parts.append(data)
                kept += len(data)
            size += chunk_size
            await self._reader.readexactly(2)
        trailer_bytes = 0
        while (trailer := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            trailer_bytes += len(trailer)
            if trailer_bytes > MAX_HEAD_BYTES:
                raise ValueError(f"trailers longer than {MAX_HEAD_BYTES} bytes")
        return b"".join(parts), size

    async def _read_to_eof(self, limit: int) -> tuple[bytes, int]:
        parts: list[bytes] = []
        kept = size = 0
        while data := await self._reader.read(_DRAIN_CHUNK):
            size += len(data)
            if limit < 0 or kept < limit:
                data = data if limit < 0 else data[: limit - kept]
                parts.append(data)
                kept += len(data)
        return b"".join(parts), size
