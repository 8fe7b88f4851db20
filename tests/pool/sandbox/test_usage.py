"""Reading a sandbox's CPU time and peak memory from cgroup v1 files (pool/sandbox/usage.py), against a
temporary directory standing in for cgroupfs."""

from __future__ import annotations

from pathlib import Path

from pool.sandbox.driver import ResourceUse
from pool.sandbox.usage import v1_cpu_ms, v1_use


def cgroups(tmp_path: Path, usage_ns: int, peak_bytes: int | None) -> tuple[Path, Path]:
    cpuacct, memory = tmp_path / "cpuacct", tmp_path / "memory"
    cpuacct.mkdir()
    memory.mkdir()
    (cpuacct / "cpuacct.usage").write_text(f"{usage_ns}\n")
    if peak_bytes is not None:
        (memory / "memory.max_usage_in_bytes").write_text(f"{peak_bytes}\n")
    return cpuacct, memory


def test_cpu_time_counts_from_the_ready_reading_and_peak_memory_is_read_as_is(tmp_path: Path) -> None:
    cpuacct, memory = cgroups(tmp_path, usage_ns=95_500_000, peak_bytes=70 * 1024 * 1024)
    ready_cpu_ms = v1_cpu_ms(cpuacct)
    assert ready_cpu_ms == 95.5
    (cpuacct / "cpuacct.usage").write_text("108000000\n")
    assert v1_use(cpuacct, memory, ready_cpu_ms) == ResourceUse(cpu_ms=12.5, peak_memory_bytes=70 * 1024 * 1024)


def test_a_missing_peak_is_unknown_and_a_removed_cgroup_reads_as_nothing(tmp_path: Path) -> None:
    cpuacct, memory = cgroups(tmp_path, usage_ns=1_000_000, peak_bytes=None)
    assert v1_use(cpuacct, memory, 0.0) == ResourceUse(cpu_ms=1.0, peak_memory_bytes=None)
    assert v1_use(tmp_path / "gone", tmp_path / "gone", 0.0) is None
    assert v1_cpu_ms(tmp_path / "gone") is None


def test_a_counter_below_the_ready_reading_never_gives_negative_cpu(tmp_path: Path) -> None:
    cpuacct, memory = cgroups(tmp_path, usage_ns=1_000_000, peak_bytes=1)
    use = v1_use(cpuacct, memory, 5.0)
    assert use is not None and use.cpu_ms == 0.0
