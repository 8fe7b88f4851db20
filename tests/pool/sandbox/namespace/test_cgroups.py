"""The cgroup file operations of both layouts (pool/sandbox/namespace/cgroups.py), against a temporary root.

cgroup v1 runs for real on this host (the isolation tests); v2 is proven here for its file operations only.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pool.sandbox.driver import ResourceUse
from pool.sandbox.namespace.cgroups import (
    CgroupLimits,
    CgroupV1,
    CgroupV2,
    detect_version,
    layout,
)

LIMITS = CgroupLimits(memory_mb=128, pids_max=64)


def v2_root(tmp_path: Path) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return tmp_path


def v1_root(tmp_path: Path) -> Path:
    for hierarchy in ("memory", "pids", "cpuacct"):
        (tmp_path / hierarchy).mkdir()
        (tmp_path / hierarchy / "cgroup.procs").write_text("")
    return tmp_path


def test_the_layout_is_detected_from_what_is_mounted(tmp_path: Path) -> None:
    assert detect_version(tmp_path) is None
    assert detect_version(v2_root(tmp_path)) == 2
    assert detect_version(v1_root(tmp_path)) == 1
    assert isinstance(layout(2, "s", tmp_path), CgroupV2)


def test_v2_sandbox_gets_one_directory_with_memory_swap_and_pids_limits(tmp_path: Path) -> None:
    root = v2_root(tmp_path)
    cgroups = CgroupV2(root, "scope1")
    cgroups.create("whisklet-a", LIMITS)
    sandbox = root / "whisklet" / "scope1" / "whisklet-a"
    assert (sandbox / "memory.max").read_text() == str(128 * 1024 * 1024)
    assert (sandbox / "memory.swap.max").read_text() == "0"
    assert (sandbox / "pids.max").read_text() == "64"
    for parent in (root, root / "whisklet", root / "whisklet" / "scope1"):
        assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert cgroups.procs_files("whisklet-a") == [str(sandbox / "cgroup.procs")]


def test_v2_kill_writes_cgroup_kill_and_empty_reads_populated(tmp_path: Path) -> None:
    cgroups = CgroupV2(v2_root(tmp_path), "scope1")
    cgroups.create("whisklet-a", LIMITS)
    sandbox = tmp_path / "whisklet" / "scope1" / "whisklet-a"
    (sandbox / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    assert not cgroups.empty("whisklet-a")
    cgroups.kill("whisklet-a")
    assert (sandbox / "cgroup.kill").read_text() == "1"
    (sandbox / "cgroup.events").write_text("populated 0\nfrozen 0\n")
    assert cgroups.empty("whisklet-a")


def test_v2_usage_reads_oom_kills_cpu_time_and_peak_memory(tmp_path: Path) -> None:
    cgroups = CgroupV2(v2_root(tmp_path), "scope1")
    cgroups.create("whisklet-a", LIMITS)
    sandbox = tmp_path / "whisklet" / "scope1" / "whisklet-a"
    (sandbox / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
    (sandbox / "cpu.stat").write_text("usage_usec 12500\nuser_usec 10000\nsystem_usec 2500\n")
    (sandbox / "memory.peak").write_text("9437184\n")
    use = cgroups.usage("whisklet-a")
    assert use is not None
    assert (use.oom_kills, use.cpu_ms, use.peak_memory_bytes) == (1, 12.5, 9437184)


def test_v2_remove_and_sweep_leave_no_sandbox_directory(tmp_path: Path) -> None:
    cgroups = CgroupV2(v2_root(tmp_path), "scope1")
    other_scope = CgroupV2(tmp_path, "scope2")
    for name in ("whisklet-a", "whisklet-b"):
        cgroups.create(name, LIMITS)
        (tmp_path / "whisklet" / "scope1" / name / "cgroup.events").write_text("populated 0\n")
    other_scope.create("whisklet-c", LIMITS)
    cgroups.remove("whisklet-a")
    cgroups.remove("whisklet-a")
    assert cgroups.usage("whisklet-a") is None
    assert cgroups.sweep() == 1
    assert [p.name for p in (tmp_path / "whisklet" / "scope1").iterdir() if p.is_dir()] == []
    assert (tmp_path / "whisklet" / "scope2" / "whisklet-c").is_dir()  # another data directory's


def test_v1_sandbox_gets_memory_pids_and_cpuacct_directories(tmp_path: Path) -> None:
    root = v1_root(tmp_path)
    cgroups = CgroupV1(root, "scope1")
    cgroups.create("whisklet-a", LIMITS)
    memory = root / "memory" / "whisklet" / "scope1" / "whisklet-a"
    assert (memory / "memory.limit_in_bytes").read_text() == str(128 * 1024 * 1024)
    assert not (memory / "memory.memsw.limit_in_bytes").exists()  # no swap accounting in this fake root
    assert (root / "pids" / "whisklet" / "scope1" / "whisklet-a" / "pids.max").read_text() == "64"
    assert len(cgroups.procs_files("whisklet-a")) == 3
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (memory / "memory.max_usage_in_bytes").write_text("1048576\n")
    (root / "cpuacct" / "whisklet" / "scope1" / "whisklet-a" / "cpuacct.usage").write_text("3000000\n")
    use = cgroups.usage("whisklet-a")
    assert use is not None and (use.oom_kills, use.cpu_ms, use.peak_memory_bytes) == (2, 3.0, 1048576)
    cgroups.remove("whisklet-a")
    assert not memory.exists() and cgroups.sweep() == 0


@pytest.mark.parametrize("version", [1, 2])
def test_a_failed_create_never_removes_another_sandboxs_cgroups(tmp_path: Path, version: int) -> None:
    root = v1_root(tmp_path) if version == 1 else v2_root(tmp_path)
    cgroups = layout(version, "scope1", root)
    cgroups.create("whisklet-a", LIMITS)
    with pytest.raises(FileExistsError):
        cgroups.create("whisklet-a", LIMITS)
    assert all(Path(procs).parent.is_dir() for procs in cgroups.procs_files("whisklet-a"))


def test_v1_counters_read_cpu_since_ready_and_peak_memory_of_the_sandbox(tmp_path: Path) -> None:
    root = v1_root(tmp_path)
    cgroups = CgroupV1(root, "scope1")
    cgroups.create("whisklet-a", LIMITS)
    (root / "cpuacct" / "whisklet" / "scope1" / "whisklet-a" / "cpuacct.usage").write_text("40000000\n")
    (root / "memory" / "whisklet" / "scope1" / "whisklet-a" / "memory.max_usage_in_bytes").write_text("52428800\n")
    counters = cgroups.counters("whisklet-a")
    assert counters is not None
    (root / "cpuacct" / "whisklet" / "scope1" / "whisklet-a" / "cpuacct.usage").write_text("47000000\n")
    assert counters.read() == ResourceUse(cpu_ms=7.0, peak_memory_bytes=52428800)
    counters.close()
    cgroups.remove("whisklet-a")
    assert cgroups.counters("whisklet-a") is None


def test_v2_counters_read_cpu_stat_and_memory_peak_where_the_kernel_has_it(tmp_path: Path) -> None:
    cgroups = CgroupV2(v2_root(tmp_path), "scope1")
    cgroups.create("whisklet-a", LIMITS)
    sandbox = tmp_path / "whisklet" / "scope1" / "whisklet-a"
    (sandbox / "cpu.stat").write_text("usage_usec 30000\nuser_usec 20000\nsystem_usec 10000\n")
    before_5_19 = cgroups.counters("whisklet-a")
    (sandbox / "memory.peak").write_text("73400320\n")
    counters = cgroups.counters("whisklet-a")
    assert before_5_19 is not None and counters is not None
    (sandbox / "cpu.stat").write_text("usage_usec 42500\nuser_usec 30000\nsystem_usec 12500\n")
    assert before_5_19.read() == ResourceUse(cpu_ms=12.5, peak_memory_bytes=None)
    assert counters.read() == ResourceUse(cpu_ms=12.5, peak_memory_bytes=73400320)


def test_a_cgroup_busy_for_a_moment_after_its_processes_were_killed_is_still_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cgroups = CgroupV2(v2_root(tmp_path), "scope1")
    cgroups.create("whisklet-a", LIMITS)
    answers = iter([OSError(errno.EBUSY, "busy"), OSError(errno.EBUSY, "busy")])  # a killed task still exiting
    real_rmdir = os.rmdir

    def rmdir(path: str | os.PathLike[str]) -> None:
        if (busy := next(answers, None)) is not None:
            raise busy
        real_rmdir(path)

    monkeypatch.setattr(os, "rmdir", rmdir)
    assert cgroups.sweep() == 1
    assert not (tmp_path / "whisklet" / "scope1" / "whisklet-a").exists()
