"""Owner records and the sweep of abandoned scopes (pool/sandbox/namespace/owner.py), on temporary roots.

The cgroup trees here are plain directories standing in for cgroupfs (v1 and v2); the locks are real. A
live owner is a held record; a dead one is a record nobody holds (the kernel drops a dead process's locks).
The real sweep of live processes is in tests/security/test_sandbox_leftovers.py.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from pool.sandbox.namespace.cgroups import CgroupLimits, layout, scopes
from pool.sandbox.namespace.owner import RECORD, OwnerBusy, hold, release, sweep_abandoned, sweep_if_abandoned

LIMITS = CgroupLimits(memory_mb=128, pids_max=64)


def cgroup_root(tmp_path: Path, version: int) -> Path:
    root = tmp_path / "cgroup"
    if version == 1:
        for hierarchy in ("memory", "pids", "cpuacct"):
            (root / hierarchy).mkdir(parents=True)
            (root / hierarchy / "cgroup.procs").write_text("")
    else:
        root.mkdir()
        (root / "cgroup.controllers").write_text("memory pids cpu\n")
    return root


def sandboxes(root: Path, version: int, scope: str, count: int) -> None:
    for index in range(count):
        layout(version, scope, root).create(f"whisklet-{scope}{index}", LIMITS)


def left(root: Path, version: int) -> dict[str, int]:
    """The number of sandbox cgroups each scope still has (in the memory hierarchy on v1)."""
    parent = root / "memory" / "whisklet" if version == 1 else root / "whisklet"
    return {scope: sum(1 for entry in (parent / scope).iterdir() if entry.is_dir()) for scope in scopes(version, root)}


@pytest.mark.parametrize("version", [1, 2])
def test_the_sweep_removes_only_the_sandboxes_of_a_recorded_owner_that_is_gone(tmp_path: Path, version: int) -> None:
    root, host_root = cgroup_root(tmp_path, version), tmp_path / "host"
    for scope in ("alive", "gone", "unrecorded", "mine"):
        (host_root / scope).mkdir(parents=True)
        sandboxes(root, version, scope, 2)
    alive = hold(host_root / "alive", 1.0)
    release_later = hold(host_root / "gone", 1.0)
    os.close(release_later)  # the owner died: its lock went with it, its record stayed
    mine = hold(host_root / "mine", 1.0)
    try:
        assert sweep_abandoned(host_root, version, "mine", root) == 2
        assert left(root, version) == {"alive": 2, "unrecorded": 2, "mine": 2}
        assert not (host_root / "gone").exists()
        assert (host_root / "alive" / RECORD).exists()
    finally:
        release(host_root / "alive", alive)
        release(host_root / "mine", mine)


def test_a_scope_whose_owner_is_alive_or_that_has_no_record_is_left_alone(tmp_path: Path) -> None:
    root, home = cgroup_root(tmp_path, 1), tmp_path / "host" / "scope"
    home.mkdir(parents=True)
    sandboxes(root, 1, "scope", 1)
    assert sweep_if_abandoned(home, 1, root) is None  # no record: maybe not ours, never touched
    owner = hold(home, 1.0)
    assert sweep_if_abandoned(home, 1, root) is None
    release(home, owner)
    assert not (home / RECORD).exists()  # the last owner unlinks it on a normal stop
    assert left(root, 1) == {"scope": 1}


def test_two_owners_of_one_data_directory_keep_the_record_until_the_last_stops(tmp_path: Path) -> None:
    home = tmp_path / "scope"
    home.mkdir()
    first, second = hold(home, 1.0), hold(home, 1.0)
    assert (home / RECORD).read_text() == f"{os.getpid()}\n"
    release(home, first)
    assert (home / RECORD).exists()
    assert sweep_if_abandoned(home, 1, cgroup_root(tmp_path, 1)) is None
    release(home, second)
    assert not (home / RECORD).exists()


def test_a_start_during_a_sweep_of_its_own_data_directory_waits_then_says_why(tmp_path: Path) -> None:
    home = tmp_path / "scope"
    home.mkdir()
    (home / RECORD).write_text("")
    sweeper = os.open(home / RECORD, os.O_RDONLY)
    fcntl.flock(sweeper, fcntl.LOCK_EX)
    try:
        with pytest.raises(OwnerBusy, match="being swept by another Whisklet"):
            hold(home, 0.05)
    finally:
        os.close(sweeper)
    release(home, hold(home, 1.0))


def test_a_record_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    home, target = tmp_path / "scope", tmp_path / "elsewhere"
    home.mkdir()
    target.write_text("kept")
    (home / RECORD).symlink_to(target)
    assert sweep_if_abandoned(home, 1, cgroup_root(tmp_path, 1)) is None
    with pytest.raises(OSError):
        hold(home, 0.05)
    assert target.read_text() == "kept"
