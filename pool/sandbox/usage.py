"""A sandbox's CPU time and peak memory, read from its cgroup counter files on the host.

The files are the gateway's side of cgroupfs (owned by root, outside every sandbox's mount namespace):
nothing a tenant can write. `UsageCounters.open` opens a sandbox's two counter files once, when it has
become ready (path lookups: blocking, so from the driver's thread). `UsageCounters.read` then costs two
`pread`s of counters the kernel computes in memory (per-CPU sums, no I/O, no lock a tenant can hold:
~5 µs for both here), so it runs on the event loop: a hop to the driver's thread instead costs the
activation 0.3-0.5 ms p50 on this loaded 2-core host (GIL hand-over and scheduling, measured with
`python -m bench.stages`), the latency this read must not add.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from pool.sandbox.driver import ResourceUse

NS_PER_MS = 1_000_000
_MAX_COUNTER_BYTES = 4096  # cpu.stat is a few short lines; the others one number

CpuMs = Callable[[bytes], "float | None"]
"""Parses a CPU counter file's text into milliseconds (None if it is not what the kernel writes)."""


def cpu_ms_v1(text: bytes) -> float | None:
    """cgroup v1 `cpuacct.usage`: nanoseconds."""
    return int(text) / NS_PER_MS if text.strip().isdigit() else None


def cpu_ms_v2(text: bytes) -> float | None:
    """cgroup v2 `cpu.stat`: its `usage_usec` line, microseconds."""
    for line in text.splitlines():
        key, _, value = line.partition(b" ")
        if key == b"usage_usec" and value.strip().isdigit():
            return int(value) / 1000
    return None


def read_int(path: Path) -> int | None:
    """The integer a cgroup file holds, None if the file is missing or holds anything else."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.strip().isdigit() else None


class UsageCounters:
    """A live sandbox's CPU counter and peak-memory file, open, and its CPU time when it became ready.

    1. `open` (blocking: the driver's thread) opens both files without following links and reads the CPU
       time so far; None when the cgroup is gone. A missing peak file (cgroup v2 before Linux 5.19)
       leaves the peak unknown.
    2. `read` returns the CPU time since `open` and the peak so far; None once the cgroup is gone.
    3. `close` closes both files; the driver calls it when it destroys the sandbox. Harmless to repeat.
    """

    def __init__(self, cpu_fd: int, cpu_ms: CpuMs, peak_fd: int | None) -> None:
        self._cpu_fd = cpu_fd
        self._cpu_ms = cpu_ms
        self._peak_fd = peak_fd
        self._ready_cpu_ms = 0.0

    @classmethod
    def open(cls, cpu_file: Path, cpu_ms: CpuMs, peak_file: Path) -> UsageCounters | None:
        try:
            cpu_fd = _open(cpu_file)
        except FileNotFoundError:
            return None
        try:
            peak_fd: int | None = _open(peak_file)
        except FileNotFoundError:
            peak_fd = None
        counters = cls(cpu_fd, cpu_ms, peak_fd)
        ready_cpu_ms = counters._read_cpu_ms()
        if ready_cpu_ms is None:
            counters.close()
            return None
        counters._ready_cpu_ms = ready_cpu_ms
        return counters

    def read(self) -> ResourceUse | None:
        cpu_ms = self._read_cpu_ms()
        if cpu_ms is None:
            return None
        peak = self._pread(self._peak_fd) if self._peak_fd is not None else None
        peak_bytes = int(peak) if peak is not None and peak.strip().isdigit() else None
        return ResourceUse(cpu_ms=max(0.0, cpu_ms - self._ready_cpu_ms), peak_memory_bytes=peak_bytes)

    def close(self) -> None:
        for fd in (self._cpu_fd, self._peak_fd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._cpu_fd, self._peak_fd = -1, None

    def _read_cpu_ms(self) -> float | None:
        text = self._pread(self._cpu_fd)
        return None if text is None else self._cpu_ms(text)

    @staticmethod
    def _pread(fd: int) -> bytes | None:
        if fd < 0:
            return None
        try:
            return os.pread(fd, _MAX_COUNTER_BYTES, 0)
        except OSError:  # ENODEV once the cgroup was removed
            return None


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
