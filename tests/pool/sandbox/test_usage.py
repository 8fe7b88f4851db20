"""A sandbox's CPU time and peak memory from its cgroup counters (pool/sandbox/usage.py), against a
temporary directory standing in for cgroupfs."""

from __future__ import annotations

from pathlib import Path

from pool.sandbox.driver import ResourceUse
from pool.sandbox.usage import UsageCounters, cpu_ms_v1, cpu_ms_v2

MIB = 1024 * 1024


def v1_files(tmp_path: Path, usage_ns: int, peak_bytes: int | None) -> tuple[Path, Path]:
    cpu, peak = tmp_path / "cpuacct.usage", tmp_path / "memory.max_usage_in_bytes"
    cpu.write_text(f"{usage_ns}\n")
    if peak_bytes is not None:
        peak.write_text(f"{peak_bytes}\n")
    return cpu, peak


def test_cpu_time_counts_from_when_the_counters_were_opened_and_the_peak_is_read_as_is(tmp_path: Path) -> None:
    cpu, peak = v1_files(tmp_path, usage_ns=95_500_000, peak_bytes=70 * MIB)
    counters = UsageCounters.open(cpu, cpu_ms_v1, peak)
    assert counters is not None
    cpu.write_text("108000000\n")
    assert counters.read() == ResourceUse(cpu_ms=12.5, peak_memory_bytes=70 * MIB)
    counters.close()
    counters.close()  # harmless to repeat
    assert counters.read() is None


def test_a_missing_peak_is_unknown_and_a_missing_cgroup_has_no_counters(tmp_path: Path) -> None:
    cpu, peak = v1_files(tmp_path, usage_ns=1_000_000, peak_bytes=None)
    counters = UsageCounters.open(cpu, cpu_ms_v1, peak)
    assert counters is not None and counters.read() == ResourceUse(cpu_ms=0.0, peak_memory_bytes=None)
    assert UsageCounters.open(tmp_path / "gone" / "cpuacct.usage", cpu_ms_v1, peak) is None


def test_a_counter_below_the_ready_reading_never_gives_negative_cpu(tmp_path: Path) -> None:
    cpu, peak = v1_files(tmp_path, usage_ns=5_000_000, peak_bytes=1)
    counters = UsageCounters.open(cpu, cpu_ms_v1, peak)
    cpu.write_text("1000000\n")
    assert counters is not None and counters.read() == ResourceUse(cpu_ms=0.0, peak_memory_bytes=1)


def test_cpu_counters_of_both_cgroup_versions_parse_to_milliseconds() -> None:
    assert cpu_ms_v1(b"2500000\n") == 2.5
    assert cpu_ms_v2(b"usage_usec 42500\nuser_usec 30000\nsystem_usec 12500\n") == 42.5
    assert cpu_ms_v1(b"garbage") is None and cpu_ms_v2(b"user_usec 1\n") is None


def test_counters_are_never_opened_through_a_link(tmp_path: Path) -> None:
    cpu, peak = v1_files(tmp_path, usage_ns=1, peak_bytes=1)
    (tmp_path / "link").symlink_to(cpu)
    try:
        UsageCounters.open(tmp_path / "link", cpu_ms_v1, peak)
    except OSError:
        return
    raise AssertionError("a symlinked counter file was opened")
