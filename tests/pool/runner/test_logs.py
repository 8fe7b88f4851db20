"""Formatting log lines and reading an activation's log file on the host."""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path
from typing import BinaryIO

import pytest

import pool.runner.logs
from pool.runner.logs import log_line, read_activation_logs

TRUNCATED = "Logs were truncated because the total bytes size exceeds the limit of {} bytes."
STAMP = "2024-06-01T12:00:00.123456789Z"


def line(stream: str, text: str) -> str:
    return f"{STAMP} {stream}: {text}"


def write(path: Path, *lines: str, end: str = "\n") -> str:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return str(path)


def assert_truncation_line(text: str, limit: int) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stderr: " + re.escape(TRUNCATED.format(limit)), text)


def test_log_line_is_docker_timestamp_padded_to_30_then_stream_and_text() -> None:
    assert log_line("stdout", "hello", when=1717243200.5) == "2024-06-01T12:00:00.500000000Z stdout: hello"


def test_log_line_defaults_to_now_with_nanoseconds() -> None:
    before = time.time()
    text = log_line("stderr", "The action did not initialize or run as expected. Log data might be missing.")
    stamp, _, rest = text.partition(" ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp)
    assert rest == "stderr: The action did not initialize or run as expected. Log data might be missing."
    when = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 1 <= when <= time.time()


def test_missing_file_has_no_lines(tmp_path: Path) -> None:
    assert read_activation_logs(str(tmp_path / "absent.log"), 1000) == []


def test_lines_are_returned_without_newlines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", line("stdout", "one"), line("stderr", "two"), line("stdout", ""))
    assert read_activation_logs(path, 1000) == [line("stdout", "one"), line("stderr", "two"), line("stdout", "")]


def test_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", line("stdout", "one"), line("stdout", "two"), end="")
    assert read_activation_logs(path, 1000) == [line("stdout", "one"), line("stdout", "two")]


def test_budget_counts_line_text_and_cuts_with_truncation_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", *(line("stdout", "0123456789") for _ in range(5)))
    lines = read_activation_logs(path, 25)
    assert lines[:2] == [line("stdout", "0123456789")] * 2
    assert len(lines) == 3
    assert_truncation_line(lines[2], 25)


def test_text_exactly_at_the_budget_is_not_cut(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", line("stdout", "0123456789"), line("stderr", "é" * 5))
    assert read_activation_logs(path, 20) == [line("stdout", "0123456789"), line("stderr", "é" * 5)]


def test_runners_own_truncation_line_is_kept_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", line("stdout", "x" * 10), line("stderr", TRUNCATED.format(200)))
    assert read_activation_logs(path, 200) == [line("stdout", "x" * 10), line("stderr", TRUNCATED.format(200))]


def test_lines_written_by_the_action_itself_are_counted_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", "not a runner line at all", "x" * 30)
    lines = read_activation_logs(path, 40)
    assert lines[0] == "not a runner line at all"
    assert_truncation_line(lines[1], 40)


class CountingFile:
    """Wraps a file to record how many bytes were read from it."""

    def __init__(self, file: BinaryIO, counts: list[int]) -> None:
        self.file, self.counts = file, counts

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.counts.append(len(data))
        return data


def test_never_reads_more_than_limit_plus_64_kib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One endless line, as an action writing the file directly could leave it.
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * (10 * 1024 * 1024))
    counts: list[int] = []
    monkeypatch.setattr(pool.runner.logs, "open", lambda *a: CountingFile(open(*a), counts), raising=False)
    lines = read_activation_logs(str(path), 1000)
    assert sum(counts) <= 1000 + 64 * 1024 + 1
    assert len(lines) == 1
    assert_truncation_line(lines[0], 1000)


def test_many_short_lines_past_the_read_cap_end_with_truncation_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", *(line("stdout", str(i)) for i in range(5000)))
    lines = read_activation_logs(str(path), 100_000)
    assert lines[:3] == [line("stdout", "0"), line("stdout", "1"), line("stdout", "2")]
    assert all(text.startswith(STAMP) for text in lines[:-1])
    assert_truncation_line(lines[-1], 100_000)
    assert len(lines) < 5000
