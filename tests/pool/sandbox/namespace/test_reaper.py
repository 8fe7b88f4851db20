"""The sandbox reaper (pool/sandbox/namespace/reaper.py) against a temporary cgroup root: a gateway that
stops says so and nothing is swept; a gateway that dies gets its scope swept, unless another live Whisklet
of the same data directory holds its owner record. Real processes, real pipes and locks; the cgroups are
plain directories (tests/security/test_sandbox_leftovers.py kills real sandboxes)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pool.sandbox.namespace import reaper
from pool.sandbox.namespace.cgroups import CgroupLimits, layout
from pool.sandbox.namespace.owner import RECORD, hold, release

# A gateway of its own: holds the record, starts the reaper, says the reaper's pid, then waits to be killed.
GATEWAY = """
import sys
from pathlib import Path
from pool.sandbox.namespace import reaper
from pool.sandbox.namespace.owner import hold
root, home = Path(sys.argv[1]), Path(sys.argv[2])
owner = hold(home, 5.0)
watch = reaper.start(1, root, home)
print(watch.pid, flush=True)
sys.stdin.read()
"""
_EXIT_S = 30.0
_POLL_S = 0.05


def fake_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A v1 cgroup root holding two sandboxes of scope `scope`, and that scope's home under a host root."""
    root, home = tmp_path / "cgroup", tmp_path / "host" / "scope"
    for hierarchy in ("memory", "pids", "cpuacct"):
        (root / hierarchy).mkdir(parents=True)
    home.mkdir(parents=True)
    for name in ("whisklet-a", "whisklet-b"):
        layout(1, "scope", root).create(name, CgroupLimits(memory_mb=64, pids_max=8))
    return root, home


def sandboxes(root: Path) -> list[str]:
    scope = root / "memory" / "whisklet" / "scope"
    return sorted(entry.name for entry in scope.iterdir() if entry.is_dir()) if scope.is_dir() else []


def wait_for_exit(pid: int) -> None:
    """Wait (bounded) until `pid` is gone or a zombie: the killed gateway's reaper is no child of ours."""
    deadline = time.monotonic() + _EXIT_S
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return
        if stat[stat.rindex(")") + 2] in "ZX":
            return
        time.sleep(_POLL_S)  # polling what the test observes, with a bound
    raise AssertionError(f"the reaper {pid} did not exit within {_EXIT_S:g} s")


def test_a_gateway_that_stops_tells_its_reaper_and_nothing_is_swept(tmp_path: Path) -> None:
    root, home = fake_tree(tmp_path)
    owner = hold(home, 1.0)
    try:
        watch = reaper.start(1, root, home)
        reaper.stop(watch)
        assert watch.returncode == 0
        assert sandboxes(root) == ["whisklet-a", "whisklet-b"]
    finally:
        release(home, owner)


@pytest.mark.parametrize("other_owner_alive", [False, True])
def test_a_killed_gateways_reaper_sweeps_its_scope_unless_another_live_whisklet_holds_it(
        tmp_path: Path, other_owner_alive: bool) -> None:
    root, home = fake_tree(tmp_path)
    gateway = subprocess.Popen([sys.executable, "-c", GATEWAY, str(root), str(home)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[4])
    other = None
    try:
        assert gateway.stdout is not None
        watch_pid = int(gateway.stdout.readline())
        if other_owner_alive:
            other = hold(home, 5.0)
    finally:
        gateway.kill()
        gateway.wait()
    try:
        wait_for_exit(watch_pid)
        if other_owner_alive:
            assert sandboxes(root) == ["whisklet-a", "whisklet-b"]
            assert (home / RECORD).exists()
        else:
            assert sandboxes(root) == []
            assert not home.exists()
    finally:
        if other is not None:
            with contextlib.suppress(OSError):
                release(home, other)
