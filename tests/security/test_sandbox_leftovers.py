"""Sandboxes outliving their gateway (issue 10): nothing a killed gateway started lives on.

bubblewrap arms `--die-with-parent` only after its fork; a creation caught before then when its gateway is
SIGKILLed, here held still with SIGSTOP as a loaded machine may hold it, used to live on for good. Now the
gateway's reaper kills by cgroup once the gateway is gone (pool/sandbox/namespace/reaper.py), and any
Whisklet's start sweeps the sandboxes of data directories whose owner is gone (owner.py), never a live
one's, nor a scope without an owner record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.leftovers import live_processes
from pool.runner.client import RunnerConnection
from pool.sandbox.namespace.cgroups import CGROUP_ROOT, PARENT, CgroupLimits, detect_version, layout
from pool.sandbox.namespace.host import scope_of
from pool.sandbox.namespace.owner import hold
from tests.pool.sandbox.namespace import sandboxes
from tests.pool.sandbox.namespace.sandboxes import namespace_missing, opened

pytestmark = pytest.mark.skipif(bool(namespace_missing()) or detect_version() != 1,
                                reason="the namespace sandbox on cgroup v1 cannot run here")
home = sandboxes.home  # a fixture

_FIND_S = 30.0  # how long to look for a creation caught before bubblewrap starts
_GONE_S = 15.0  # how long the reaper or the sweep may take
_POLL_S = 0.05


def sandbox_cgroups(scope: str) -> list[Path]:
    return [entry for hierarchy in ("memory", "pids", "cpuacct")
            for entry in _entries(CGROUP_ROOT / hierarchy / PARENT / scope) if entry.is_dir()]


def _entries(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def wait_until_gone(scope: str) -> tuple[dict[int, str], list[Path]]:
    """The live processes and the sandbox cgroups of `scope` once both are gone, or after `_GONE_S`."""
    deadline = time.monotonic() + _GONE_S
    while ((left := live_processes(scope)) or sandbox_cgroups(scope)) and time.monotonic() < deadline:
        time.sleep(_POLL_S)  # polling what the test observes, with a bound
    return left, sandbox_cgroups(scope)


@contextlib.contextmanager
def cleaned(scope: str) -> Iterator[None]:
    """Whatever the test leaves in `scope`'s cgroups is killed and removed afterwards."""
    try:
        yield
    finally:
        for pid in live_processes(scope):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            layout(1, scope).sweep()
            layout(1, scope).release()


@pytest.mark.parametrize("egress", ["none", "internet"])
def test_a_gateway_killed_while_a_creation_has_not_armed_die_with_parent_leaves_no_live_process(
        home: tuple[Path, Path], egress: str) -> None:
    data_dir, host_root = home
    data_dir.mkdir(parents=True)
    scope = scope_of(data_dir)
    gateway = subprocess.Popen([sys.executable, "-m", "bench.leftovers", "--child", str(data_dir), "--host-root",
                                str(host_root), "--parallel", "4", "--egress", egress], stdout=subprocess.PIPE)
    with cleaned(scope):
        try:
            assert gateway.stdout is not None and gateway.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + _FIND_S
            while not {"sh", "setpriv"} & set(live_processes(scope).values()):  # before bubblewrap arms anything
                assert time.monotonic() < deadline, "no creation was caught before bubblewrap started"
            for _ in range(3):  # held still, as a machine too loaded to schedule them would hold them
                for pid in live_processes(scope):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
        finally:
            gateway.kill()
            gateway.wait()
        assert wait_until_gone(scope) == ({}, [])


async def test_a_start_sweeps_a_dead_gateways_sandboxes_and_leaves_a_live_ones_and_unrecorded_ones_alone(
        home: tuple[Path, Path]) -> None:
    data_dir, host_root = home
    dead_scope, unrecorded_scope = scope_of(data_dir.with_name("dead")), scope_of(data_dir.with_name("unrecorded"))
    (host_root / dead_scope).mkdir(parents=True)
    os.close(hold(host_root / dead_scope, 1.0))  # its gateway died: the record stayed, its lock went with it
    with cleaned(dead_scope), cleaned(unrecorded_scope):
        dead, unrecorded = leftover(dead_scope), leftover(unrecorded_scope)
        try:
            async with opened("sandbox", data_dir.with_name("live"), host_root) as live:
                sandbox = await live.create(128)
                async with opened("sandbox", data_dir, host_root):
                    assert dead.wait(_GONE_S) == -signal.SIGKILL
                    assert sandbox_cgroups(dead_scope) == []
                    assert unrecorded.poll() is None
                    connection = await RunnerConnection.open(sandbox.socket_path)
                    try:
                        assert (await connection.request("GET", "/health")).status == 200
                    finally:
                        await connection.close()
                await live.destroy(sandbox)
        finally:
            for process in (dead, unrecorded):
                process.kill()
                process.wait()


def leftover(scope: str) -> subprocess.Popen[bytes]:
    """A live process in a sandbox cgroup of `scope`, as a killed gateway's sandbox would leave one."""
    cgroups = layout(1, scope)
    cgroups.create("whisklet-leftover", CgroupLimits(memory_mb=64, pids_max=8))
    join = 'for procs in "$@"; do echo $$ > "$procs"; done; exec sleep 600'
    process = subprocess.Popen(["/bin/sh", "-c", join, "leftover", *cgroups.procs_files("whisklet-leftover")])
    deadline = time.monotonic() + _GONE_S
    while live_processes(scope).get(process.pid) != "sleep":
        assert time.monotonic() < deadline, "the leftover process did not start"
        time.sleep(_POLL_S)
    return process
