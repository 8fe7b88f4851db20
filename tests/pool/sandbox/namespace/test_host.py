"""The host check the namespace driver runs before it is chosen: what it probes and what it binds."""

from __future__ import annotations

import shutil

import pytest

from pool.sandbox.namespace import host

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def test_this_host_can_run_the_namespace_sandbox():
    assert host.missing() == []


def test_the_user_namespace_probe_never_binds_the_whole_root_whose_mounts_come_and_go():
    args = host._probe_root()
    sources = [args[i + 1] for i, arg in enumerate(args) if arg == "--ro-bind"]
    assert "/" not in sources
    assert "/usr" in sources


def test_the_user_namespace_probe_runs_as_the_runner_and_succeeds_here():
    bwrap = shutil.which("bwrap")
    assert bwrap is not None
    assert host._userns_refused(bwrap) is None
