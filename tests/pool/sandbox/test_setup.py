"""`scripts/setup`: serving sets up only what the default driver needs; the full set-up, both drivers.

The script runs as a dry run (`WHISKLET_SETUP_DRY_RUN=1`: it says what it would install and changes
nothing) with a PATH that hides Docker, prometheus, chromium and npm, so that this machine looks fresh
without anything being uninstalled from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pool.sandbox.namespace.host import missing

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "setup"
HIDDEN = {"docker", "dockerd", "prometheus", "chromium", "npm"}
SEARCH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None or bool(missing()),
                                reason="needs a root host where the namespace sandbox runs")


def fresh_path(tmp_path: Path, hide: set[str]) -> str:
    """A PATH holding every program of this machine's but those in `hide`."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for directory in SEARCH:
        for program in Path(directory).iterdir() if Path(directory).is_dir() else ():
            target = tools / program.name
            if program.name not in hide and not target.exists() and os.access(program, os.X_OK):
                target.symlink_to(program)
    return str(tools)


def plan(path: str, *args: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/root"), "WHISKLET_SETUP_DRY_RUN": "1", **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_serving_on_a_fresh_machine_sets_up_no_docker_prometheus_chromium_or_npm(tmp_path: Path) -> None:
    said = plan(fresh_path(tmp_path, HIDDEN), "--serve")
    for absent in ("docker", "prometheus", "chromium", "npm", "image"):
        assert absent not in said.lower()


def test_serving_on_a_machine_without_bubblewrap_installs_it_and_still_no_docker(tmp_path: Path) -> None:
    said = plan(fresh_path(tmp_path, HIDDEN | {"bwrap"}), "--serve")
    assert "would install Debian's bubblewrap" in said
    assert "docker" not in said.lower()


def test_serving_with_the_docker_driver_asked_for_sets_up_docker(tmp_path: Path) -> None:
    said = plan(fresh_path(tmp_path, HIDDEN), "--serve", WHISKLET_POOL_DRIVER="docker")
    assert "would install Debian's docker.io" in said
    assert "would check the Docker driver's runtime image" in said
    assert "prometheus" not in said and "chromium" not in said


def test_the_full_set_up_installs_both_drivers_and_the_test_tools(tmp_path: Path) -> None:
    said = plan(fresh_path(tmp_path, HIDDEN | {"bwrap"}))
    for wanted in ("bubblewrap", "docker.io", "prometheus", "chromium", "runtime image"):
        assert wanted in said


def test_serve_set_up_on_a_machine_already_set_up_does_nothing() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--serve"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
