"""Faults an operator meets: a container killed from outside, the gateway killed mid-flight, a full or
read-only disk, the Docker engine stopped. Each test runs a `whisklet serve` of its own.

Stopping the engine stops every container on the machine, so that test runs only where it may own the
engine: `WHISKLET_FAULT_TESTS=1` (scripts/test sets it) and a dockerd started as scripts/setup starts it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.serving import WHISKLET, ServedWhisklet, docker_available, free_port, sandbox_host_dirs, sandbox_names, wait_until
from tests.integration.actions import NS, activation, annotations, invoke, put_action, unique

INTERRUPTED = "The activation was interrupted: Whisklet stopped before it ended, so its result and logs are lost."
HELLO = "function main() { return {hello: 'world'}; }"
# Leaves a mark in its host directory once it runs, then waits.
SLOW = """
async function main(params) {
  require('fs').writeFileSync('/run/whisklet/started', '');
  await new Promise((resolve) => setTimeout(resolve, params.ms || 120000));
  return {done: true};
}
"""
ROOT = os.geteuid() == 0
DOCKERD = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false"]  # as scripts/setup starts it
DOCKERD_LOG = Path("/var/log/whisklet-dockerd.log")
DOCKER_DRIVER = {"WHISKLET_POOL_DRIVER": "docker"}  # the tests of the Docker engine's own faults
DOCKERD_PID = Path("/var/run/docker.pid")


def started_containers(data_dir: Path) -> list[str]:
    """Names of the containers whose action has begun running (see SLOW)."""
    return [host_dir.name for host_dir in sandbox_host_dirs(data_dir) if (host_dir / "started").exists()]


def mounts_under(directory: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(directory))]


def test_a_container_killed_mid_activation_is_a_developer_error_not_a_hang(tmp_path):
    served = ServedWhisklet(tmp_path / "data", env=DOCKER_DRIVER).start()  # kills a container through the engine
    try:
        with served.client() as wsk, ThreadPoolExecutor(1) as background:
            name = unique("victim")
            put_action(wsk, name, SLOW, limits={"timeout": 300000})
            pending = background.submit(invoke, wsk, name)
            assert wait_until(lambda: started_containers(served.data_dir), timeout_s=60)
            subprocess.run(["docker", "kill", *started_containers(served.data_dir)], check=True, capture_output=True)
            response = pending.result(timeout=120)
            assert response.status_code == 502, response.text
            record = response.json()
            assert record["response"]["status"] == "action developer error"
            assert record["response"]["result"] == {
                "error": "The action did not produce a valid response and exited unexpectedly."
            }
            assert annotations(record)["timeout"] is False
            after = unique("after")
            put_action(wsk, after, HELLO)
            assert invoke(wsk, after, result=True).json() == {"hello": "world"}
    finally:
        served.stop()


def test_a_killed_gateways_activations_are_recorded_as_interrupted_and_its_containers_removed(tmp_path):
    data_dir = tmp_path / "data"
    # one prewarmed container, created one at a time: the first activation runs, the others wait for one
    env = {"WHISKLET_POOL_MIN_PREWARM": "1", "WHISKLET_POOL_MAX_PARALLEL_CREATES": "1"}
    first = ServedWhisklet(data_dir, env=env).start()
    try:
        with first.client() as wsk:
            name = unique("interrupted")
            put_action(wsk, name, SLOW, limits={"timeout": 300000})
            accepted = []
            for _ in range(4):
                response = wsk.post(f"{NS}/actions/{name}", json={})
                assert response.status_code == 202, response.text
                accepted.append(response.json()["activationId"])
            assert wait_until(lambda: started_containers(data_dir), timeout_s=60)
            left_behind = sandbox_names(data_dir)
    finally:
        first.kill()  # SIGKILL: no drain, no flush, containers left running
    assert left_behind
    second = ServedWhisklet(data_dir, port=free_port(), env=env).start()
    try:
        with second.client() as wsk:
            for activation_id in accepted:
                record = activation(wsk, activation_id)
                assert record["response"]["status"] == "whisk internal error"
                assert record["response"]["result"] == {"error": INTERRUPTED}
        assert not set(left_behind) & set(sandbox_names(data_dir))
        assert not [m for m in mounts_under(Path("/")) if any(name in m for name in left_behind)]
    finally:
        second.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs for the data directory."""
    if not ROOT:
        pytest.skip("mounting a small disk needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), filler.open("wb") as file:
        while True:
            file.write(chunk)
            file.flush()
    return filler


def test_a_full_disk_gives_clear_503s_and_loses_and_corrupts_nothing(small_disk):
    served = ServedWhisklet(small_disk).start()
    accepted: list[str] = []
    try:
        with served.client() as wsk:
            name = unique("hello")
            put_action(wsk, name, HELLO)
            accepted.append(wsk.post(f"{NS}/actions/{name}", json={}).json()["activationId"])
            filler = fill(small_disk)
            big_code = {"exec": {"kind": "nodejs:default", "code": "x" * 4_000_000}}
            big = wsk.put(f"{NS}/actions/{unique('big')}", json=big_code)
            assert big.status_code == 503, big.text
            assert "is full: free some space" in big.json()["error"]
            refused = None
            for _ in range(8):  # the write-ahead log may still have room for a few small writes
                response = wsk.post(f"{NS}/actions/{name}", json={})
                if response.status_code != 202:
                    refused = response
                    break
                accepted.append(response.json()["activationId"])
            assert refused is not None and refused.status_code == 503, refused and refused.text
            assert "is full: free some space" in refused.json()["error"]
            assert wsk.get(f"{NS}/actions/{name}").status_code == 200  # reads go on
            filler.unlink()
            assert invoke(wsk, name, result=True).json() == {"hello": "world"}
            for activation_id in accepted:
                assert activation(wsk, activation_id)["response"]["status"] == "success"
    finally:
        served.stop()
    with sqlite3.connect(small_disk / "whisklet.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT activation_id FROM activations")}
    assert set(accepted) <= stored


def test_a_read_only_data_directory_stops_start_up_with_a_clear_message(tmp_path):
    if not ROOT:
        pytest.skip("a read-only bind mount needs root")
    data_dir, read_only = tmp_path / "data", tmp_path / "read-only"
    subprocess.run([str(WHISKLET), "namespace", "create", "someone", "--data-dir", str(data_dir)],
                   check=True, capture_output=True)
    read_only.mkdir()
    subprocess.run(["mount", "--bind", str(data_dir), str(read_only)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(read_only)], check=True)
        done = subprocess.run(
            [str(WHISKLET), "serve", "--data-dir", str(read_only), "--port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        subprocess.run(["umount", "-l", str(read_only)], check=False)
    assert done.returncode == 1
    assert "read-only" in done.stderr, done.stderr


# The Docker engine stopped and started again


def _engine_pid() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(DOCKERD_PID.read_text())
    return None


def _owned_engine() -> bool:
    """Whether dockerd runs exactly as scripts/setup starts it, so this test may stop and restart it."""
    pid = _engine_pid()
    if pid is None or not ROOT:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1] == [arg.encode() for arg in DOCKERD]
    return False


def stop_engine() -> None:
    pid = _engine_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout_s=90), "dockerd did not stop"


def start_engine() -> None:
    """Start dockerd as scripts/setup does (detached, logging to its file) unless one answers."""
    if docker_available():
        return
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(DOCKERD, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    assert wait_until(docker_available, timeout_s=90, interval_s=0.5), f"dockerd did not come back; see {DOCKERD_LOG}"


@pytest.mark.skipif(os.environ.get("WHISKLET_FAULT_TESTS") != "1",
                    reason="stops the machine's Docker engine; set WHISKLET_FAULT_TESTS=1 (scripts/test does)")
def test_a_stopped_engine_gives_503_and_the_pool_recovers_when_it_is_back(tmp_path):
    if not _owned_engine():
        pytest.skip("dockerd was not started as scripts/setup starts it; not stopping someone else's engine")
    served = ServedWhisklet(tmp_path / "data", env=DOCKER_DRIVER).start()  # the engine is what stops
    try:
        with served.client() as wsk:
            name = unique("hello")
            put_action(wsk, name, HELLO)
            assert invoke(wsk, name, result=True).status_code == 200
            stop_engine()
            try:
                # A prewarmed runner whose container outlived dockerd may still serve an activation or
                # two; once those are used, every invoke must get the 503.
                for _ in range(10):
                    blocking = invoke(wsk, name)
                    if blocking.status_code != 200:
                        break
                    assert blocking.json()["response"]["status"] == "success", blocking.text
                assert blocking.status_code == 503, blocking.text
                assert "engine" in blocking.json()["error"]
                non_blocking = wsk.post(f"{NS}/actions/{name}", json={})
                assert non_blocking.status_code == 503, non_blocking.text
                assert "Check that dockerd is running." in non_blocking.json()["error"]
            finally:
                start_engine()
            began = time.monotonic()
            assert wait_until(lambda: invoke(wsk, name).status_code == 200, timeout_s=120, interval_s=1)
            print(f"the pool served again {time.monotonic() - began:.1f}s after the engine answered")
    finally:
        served.stop()
    assert not sandbox_names(served.data_dir)
