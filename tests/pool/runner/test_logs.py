"""Formatting log lines and collecting an activation's logs from its runner's output."""

from __future__ import annotations

import asyncio
import calendar
import re
import time
import tracemalloc
from collections.abc import Iterable

from pool.runner.logs import SENTINEL, LogCollector, log_line

TRUNCATED = "Logs were truncated because the total bytes size exceeds the limit of {} bytes."
NOW = 1717243200.5
STAMP = "2024-06-01T12:00:00.500000000Z"
END = SENTINEL + b"\n"


def line(stream: str, text: str) -> str:
    return f"{STAMP} {stream}: {text}"


class ScriptedOutput:
    """A runner's output that yields `chunks`, then waits (as a live runner does) unless `ends`."""

    def __init__(self, chunks: Iterable[tuple[str, bytes]], ends: bool = False) -> None:
        self.chunks = list(chunks)
        self.ends = ends
        self.reads = 0
        self.closed = asyncio.Event()

    async def read(self) -> tuple[str, bytes] | None:
        self.reads += 1
        if self.chunks:
            return self.chunks.pop(0)
        if not self.ends:
            await self.closed.wait()
        return None

    def close(self) -> None:
        self.closed.set()


async def collect(chunks: Iterable[tuple[str, bytes]], limit_bytes: int = 1000, wait_s: float = 5.0,
                  ends: bool = False) -> tuple[list[str], bool]:
    collector = LogCollector(ScriptedOutput(chunks, ends), limit_bytes, now=lambda: NOW)
    return await collector.finish(wait_s)


def test_log_line_is_docker_timestamp_padded_to_30_then_stream_and_text() -> None:
    assert log_line("stdout", "hello", when=NOW) == "2024-06-01T12:00:00.500000000Z stdout: hello"


def test_log_line_defaults_to_now_with_nanoseconds() -> None:
    before = time.time()
    text = log_line("stderr", "The action did not initialize or run as expected. Log data might be missing.")
    stamp, _, rest = text.partition(" ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp)
    assert rest == "stderr: The action did not initialize or run as expected. Log data might be missing."
    when = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 1 <= when <= time.time()


async def test_lines_of_both_streams_are_stamped_on_arrival_and_end_at_both_sentinels() -> None:
    lines, complete = await collect([
        ("stdout", b"one\ntw"), ("stderr", b"err\n"), ("stdout", b"o\n" + END), ("stderr", END),
    ])
    assert lines == [line("stdout", "one"), line("stderr", "err"), line("stdout", "two")]
    assert complete


async def test_a_line_that_looks_stamped_is_stored_as_text_behind_the_gateways_stamp() -> None:
    forged = "2001-01-01T00:00:00.000000000Z stdout: forged"
    lines, _ = await collect([("stderr", forged.encode() + b"\n" + END), ("stdout", END)])
    assert lines == [line("stderr", forged)]


async def test_a_partial_line_before_the_sentinel_is_kept() -> None:
    lines, complete = await collect([("stdout", b"no newline" + END), ("stderr", b"half" + END)])
    assert lines == [line("stdout", "no newline"), line("stderr", "half")]
    assert complete


async def test_output_after_a_streams_sentinel_is_not_the_activations() -> None:
    lines, _ = await collect([("stdout", END + b"later\n"), ("stdout", b"later still\n"), ("stderr", END)])
    assert lines == []


async def test_the_end_of_both_streams_ends_collection_with_the_partial_lines() -> None:
    lines, complete = await collect([("stdout", b"before exit\n"), ("stderr", b"partial")], ends=True)
    assert lines == [line("stdout", "before exit"), line("stderr", "partial")]
    assert complete


async def test_without_sentinels_collection_ends_at_the_deadline_incomplete() -> None:
    lines, complete = await collect([("stdout", b"busy\n")], wait_s=0.05)
    assert lines == [line("stdout", "busy")]
    assert not complete


async def test_line_text_is_cut_at_the_limit_with_one_truncation_line_and_the_rest_drained() -> None:
    output = ScriptedOutput([("stdout", b"0123456789\n" * 5), ("stderr", b"after\n"), ("stdout", END), ("stderr", END)])
    lines, complete = await LogCollector(output, 25, now=lambda: NOW).finish(5.0)
    assert lines == [line("stdout", "0123456789"), line("stdout", "0123456789"), line("stderr", TRUNCATED.format(25))]
    assert complete and output.reads == 4  # read to the sentinels: the runner never blocks on a full pipe


async def test_multibyte_text_counts_in_bytes() -> None:
    lines, _ = await collect([("stdout", b"0123456789\n"), ("stderr", ("é" * 5 + "\n").encode() + END),
                              ("stdout", END)], limit_bytes=20)
    assert lines == [line("stdout", "0123456789"), line("stderr", "é" * 5)]


async def test_a_line_without_newline_never_holds_more_than_the_limit() -> None:
    chunk = b"x" * 65536

    def endless() -> Iterable[tuple[str, bytes]]:
        yield from (("stdout", chunk) for _ in range(200))  # 13 MB, one line
        yield ("stdout", b"\n" + END)
        yield ("stderr", END)

    tracemalloc.start()
    try:
        lines, complete = await LogCollector(ScriptedOutput(endless()), 10_000, now=lambda: NOW).finish(5.0)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [line("stderr", TRUNCATED.format(10_000))]
    assert complete
    assert peak_bytes < 1_000_000  # 13 MB went through


async def test_a_sentinel_after_the_limit_still_ends_collection() -> None:
    lines, complete = await collect([("stdout", b"y" * 5000 + END), ("stderr", END)], limit_bytes=100, wait_s=1.0)
    assert lines == [line("stderr", TRUNCATED.format(100))]
    assert complete
