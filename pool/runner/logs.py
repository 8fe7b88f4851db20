"""An activation's log lines: their OpenWhisk format, and collecting them from the runner's output.

The runner writes the action's output to its real stdout and stderr, unstamped, and with each `/run`
reply (and each failed `/init`) OpenWhisk's sentinel line on both, just before the reply: its pipe
writes are synchronous, so the sentinels are in the pipes by the time the reply is on the socket.
The gateway holds both streams (the driver's `RunnerOutput`), so every line is stamped here, by the
side the tenant cannot forge: a raw line that looks stamped is stored with the gateway's stamp in
front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pool.sandbox.driver import RunnerOutput

log = logging.getLogger("whisklet.pool")

SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
"""What the runner writes on stdout and stderr once an activation's output is complete (as OpenWhisk)."""

SENTINEL_WAIT_S = 1.0
"""How long, at most, the logs of an activation that ended normally wait for both sentinels after its
reply arrived. An honest runner writes them just before the reply, so they are already there (both
drivers hand the gateway pipes: the namespace driver's own, the Docker driver's FIFOs); a runner that lost them (the action
closed its stdout, or exited) ends the wait early or costs this much once, and its logs then end with
OpenWhisk's "logs could not be collected" line."""

_STREAMS = ("stdout", "stderr")


def log_line(stream: str, text: str, when: float | None = None) -> str:
    """One log line as OpenWhisk stores it: `f"{time:<30} {stream}: {text}"`.

    `time` is RFC 3339 UTC with nanoseconds, as Docker writes it; `when` is epoch seconds, now by default.
    """
    ns = time.time_ns() if when is None else round(when * 1e9)
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"
    return f"{stamp:<30} {stream}: {text}"


def truncation_line(limit_bytes: int, when: float | None = None) -> str:
    return log_line(
        "stderr", f"Logs were truncated because the total bytes size exceeds the limit of {limit_bytes} bytes.", when
    )


class LogCollector:
    """Collects one activation's log lines from its runner's output, concurrently with the activation.

    1. Each line is stamped with the gateway's wall clock (`now`, epoch seconds) when it arrives.
    2. Line text counts against `limit_bytes`; the line that passes it is replaced by the truncation
       line, once, and everything after it is read and discarded, so the runner never blocks on a
       full pipe.
    3. A partial line (no newline yet) is kept only up to what is left of the budget: a line of any
       length without a newline never holds more than `limit_bytes` here.
    4. A line ending in the sentinel ends its stream's output (what precedes the sentinel is kept);
       collection ends once both streams sent one or both streams ended.
    5. `finish` must be called (or `cancel`): it owns the reading task.
    """

    def __init__(self, output: RunnerOutput, limit_bytes: int, now: Callable[[], float] = time.time) -> None:
        self._output = output
        self._limit_bytes = limit_bytes
        self._now = now
        self._lines: list[str] = []
        self._pending: dict[str, list[bytes]] = {stream: [] for stream in _STREAMS}  # a partial line's pieces
        self._pending_bytes = dict.fromkeys(_STREAMS, 0)
        self._finished: set[str] = set()  # streams whose sentinel arrived
        self._used_bytes = 0
        self._truncated = False
        self._ended = False  # both streams sent their sentinel or ended
        self._task = asyncio.create_task(self._collect())

    async def finish(self, wait_s: float) -> tuple[list[str], bool]:
        """The lines collected, waiting up to `wait_s` for the end of the output (0: take what arrived),
        and whether the output was complete. A pending partial line is kept as a line."""
        try:
            if wait_s > 0 and not self._task.done():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await asyncio.shield(self._task)
        finally:
            await self.cancel()
        for stream in _STREAMS:
            if stream not in self._finished and self._pending_bytes[stream]:
                self._line(stream, b"".join(self._pending[stream]))
            self._pending[stream].clear()
            self._pending_bytes[stream] = 0
        return self._lines, self._ended

    async def cancel(self) -> None:
        """Stop reading (harmless to repeat)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _collect(self) -> None:
        try:
            while len(self._finished) < len(_STREAMS):
                chunk = await self._output.read()
                if chunk is None:
                    break
                self._take(*chunk)
        except Exception:  # a broken stream ends the logs, never the activation
            log.exception("reading a runner's output failed; its logs end here")
            return
        self._ended = True

    def _take(self, stream: str, data: bytes) -> None:
        if stream in self._finished or stream not in self._pending:
            return  # after the sentinel: what the action writes once its activation is over
        pending = self._pending[stream]
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            pending.append(data[start:end])
            line = b"".join(pending)
            pending.clear()
            self._pending_bytes[stream] = 0
            self._line(stream, line)
            if stream in self._finished:
                return
            start = end + 1
        if start < len(data):
            pending.append(data[start:])
            self._pending_bytes[stream] += len(data) - start
        if not self._truncated and self._pending_bytes[stream] > self._limit_bytes - self._used_bytes:
            self._truncate()
        if self._truncated and self._pending_bytes[stream] > len(SENTINEL):
            # Once truncated, only the end of a partial line is kept: enough to recognise the sentinel.
            tail = b"".join(pending)[-len(SENTINEL):]
            pending[:] = [tail]
            self._pending_bytes[stream] = len(tail)

    def _line(self, stream: str, raw: bytes) -> None:
        if raw.endswith(SENTINEL):
            self._finished.add(stream)
            raw = raw[: -len(SENTINEL)]
            if not raw:
                return
        if self._truncated:
            return
        self._used_bytes += len(raw)
        if self._used_bytes > self._limit_bytes:
            self._truncate()
            return
        self._lines.append(log_line(stream, raw.decode(errors="replace"), self._now()))

    def _truncate(self) -> None:
        self._truncated = True
        self._lines.append(truncation_line(self._limit_bytes, self._now()))
