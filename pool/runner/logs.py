"""An activation's log lines: their OpenWhisk format, and reading the file a runner wrote them to."""

from __future__ import annotations

import time

# Lines that fit in the byte budget may still carry this much formatting around them on disk.
_READ_SLACK_BYTES = 64 * 1024
# `<timestamp: 30> <stream>: ` as the runner writes it.
_PREFIX_BYTES = 39
_STREAM_MARKS = (b" stdout: ", b" stderr: ")


def log_line(stream: str, text: str, when: float | None = None) -> str:
    """One log line as OpenWhisk stores it: `f"{time:<30} {stream}: {text}"`.

    `time` is RFC 3339 UTC with nanoseconds, as Docker writes it and as the runner does; `when` is
    epoch seconds, now by default.
    """
    ns = time.time_ns() if when is None else round(when * 1e9)
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"
    return f"{stamp:<30} {stream}: {text}"


def truncation_line(limit_bytes: int) -> str:
    return log_line(
        "stderr", f"Logs were truncated because the total bytes size exceeds the limit of {limit_bytes} bytes."
    )


def read_activation_logs(log_path: str, limit_bytes: int) -> list[str]:
    """The lines of a runner's log file, cut again at `limit_bytes` of line text.

    The runner already enforces the budget; this does it again because the action can write the
    file directly. Reads at most `limit_bytes` + 64 KiB; a file longer than that is cut with the
    truncation line. A missing file has no lines. Blocking: call it from a thread.
    """
    cap = limit_bytes + _READ_SLACK_BYTES
    try:
        with open(log_path, "rb") as file:
            data = file.read(cap + 1)
    except FileNotFoundError:
        return []
    cut = len(data) > cap
    raw_lines = data[:cap].split(b"\n")
    if cut or raw_lines[-1] == b"":
        raw_lines.pop()  # the partial line at the read cap, or the empty string after the last newline

    lines: list[str] = []
    used = 0
    for raw in raw_lines:
        used += len(raw) - _PREFIX_BYTES if raw[30:_PREFIX_BYTES] in _STREAM_MARKS else len(raw)
        if used > limit_bytes:
            cut = True
            break
        lines.append(raw.decode(errors="replace"))
    if cut:
        lines.append(truncation_line(limit_bytes))
    return lines
