"""A sandbox's CPU time and peak memory, read from its cgroup files on the host.

Only the gateway's side of cgroupfs is read here (files owned by root, outside every sandbox's mount
namespace): nothing a tenant can write. Each read is one or two small file reads, blocking: call it from
the driver's thread, never the event loop. The directories are parameters so the reads are tested
against a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

from pool.sandbox.driver import ResourceUse

NS_PER_MS = 1_000_000


def read_int(path: Path) -> int | None:
    """The integer a cgroup file holds, None if the file is missing or holds anything else."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.strip().isdigit() else None


def v1_cpu_ms(cpuacct: Path) -> float | None:
    """CPU time used so far by a v1 `cpuacct` cgroup (`cpuacct.usage`, ns), None once it is gone."""
    usage_ns = read_int(cpuacct / "cpuacct.usage")
    return None if usage_ns is None else usage_ns / NS_PER_MS


def v1_use(cpuacct: Path, memory: Path, ready_cpu_ms: float) -> ResourceUse | None:
    """CPU time since `ready_cpu_ms` and the peak memory (`memory.max_usage_in_bytes`) of v1 cgroups."""
    cpu_ms = v1_cpu_ms(cpuacct)
    if cpu_ms is None:
        return None
    peak = read_int(memory / "memory.max_usage_in_bytes")
    return ResourceUse(cpu_ms=max(0.0, cpu_ms - ready_cpu_ms), peak_memory_bytes=peak)
