"""An activation's stored log lines turned into the events every destination sends, one per line."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from functools import lru_cache

from gateway.wire.models import ActivationRecord

_STREAMS = ("stdout", "stderr")
MAX_MESSAGE_CHARS = 32_000  # Azure truncates a field past 32 KB; one line never fills a whole request


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log line of one activation (routes-and-log-forwarding.md §13)."""

    activation_id: str
    action_name: str  # `ns/pkg/action`, without a leading slash
    namespace: str  # the namespace whose configuration forwards it (the invoking one)
    timestamp: str  # ISO 8601 UTC as the line was stamped, sub-second digits kept
    time_ns: int  # the same instant, epoch nanoseconds
    stream: str  # stdout or stderr
    message: str
    status: str  # the activation's status: success, application error, ...

    @property
    def size(self) -> int:
        """What the event weighs in a queue: its text, not Python's object overhead."""
        return len(self.message) + len(self.action_name) + 128


def activation_events(record: ActivationRecord, first: int = 0, end: int | None = None) -> list[LogEvent]:
    """Events of the record's log lines `first` to `end` (all by default)."""
    path = next((str(note.value) for note in record.annotations if note.key == "path"), "")
    action_name = path.lstrip("/") or f"{record.namespace}/{record.name}"
    events = []
    for line in record.logs[first:end]:
        timestamp, time_ns, stream, message = parse_line(line, record.start)
        events.append(LogEvent(
            record.activationId, action_name, record.namespace, timestamp, time_ns, stream, message,
            record.response.status,
        ))
    return events


def parse_line(line: str, fallback_ms: int) -> tuple[str, int, str, str]:
    """`"<timestamp padded to 30> <stream>: <text>"` -> (timestamp, epoch ns, stream, text). A line of
    another shape is kept whole as stdout at `fallback_ms`."""
    stamp, _, rest = line.partition(" ")
    stream, colon, text = rest.lstrip(" ").partition(": ")
    time_ns = _epoch_ns(stamp)
    if time_ns is None or not colon or stream not in _STREAMS:
        return _iso(fallback_ms * 1_000_000), fallback_ms * 1_000_000, "stdout", line
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + f"... [{len(text) - MAX_MESSAGE_CHARS} characters cut by Whisklet]"
    return stamp, time_ns, stream, text


def _epoch_ns(stamp: str) -> int | None:
    """`2024-06-01T12:00:00.123456789Z` -> epoch ns; None for anything else."""
    if len(stamp) < 20 or not stamp.endswith("Z"):
        return None
    whole, _, fraction = stamp[:-1].partition(".")
    seconds = _epoch_s(whole)
    if seconds is None or (fraction and not fraction.isdigit()):
        return None
    return seconds * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0"))


def _iso(epoch_ns: int) -> str:
    seconds, fraction = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction // 1_000_000:03d}Z"


@lru_cache(maxsize=64)
def _epoch_s(whole: str) -> int | None:
    """Lines of one activation share their seconds: parse each second once."""
    try:
        return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
