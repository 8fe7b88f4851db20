"""Hostile actions stay inside their container, and one namespace's key opens nothing of another's.

Each action below tries one way out and reports what it met; the container's limits are shrunk on a
server of this module's own (`confined`: 64 tasks, an 8 MB /tmp, a 4 MB run directory) so that the
limit, not the host, is what stops it, and quickly.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from bench.serving import REPO, WHISKLET, ServedWhisklet, sandbox_names, wait_until
from tests.integration.actions import NS, activation, annotations, invoke, put_action, unique

PIDS_LIMIT, TMP_MB, RUN_DIR_MB = 64, 8, 4


@pytest.fixture(scope="module")
def confined(tmp_path_factory):
    served = ServedWhisklet(
        tmp_path_factory.mktemp("confined"),
        env={
            "WHISKLET_DOCKER_PIDS_LIMIT": str(PIDS_LIMIT),
            "WHISKLET_DOCKER_TMPFS_MB": str(TMP_MB),
            "WHISKLET_DOCKER_RUN_DIR_MB": str(RUN_DIR_MB),
            "WHISKLET_POOL_MIN_PREWARM": "1",
        },
    ).start()
    yield served
    served.stop()


@pytest.fixture
def jail(confined):
    with confined.client() as client:
        yield client


def result_of(wsk: httpx.Client, name: str, code: str, params: dict | None = None, **limits) -> dict:
    """Create the action, invoke it blocking, and return the full record (whatever its status)."""
    put_action(wsk, name, code, limits={"timeout": 60000, **limits})
    response = invoke(wsk, name, params)
    assert response.status_code in (200, 502), response.text
    return response.json()


# Escaping the container's limits

FORK_BOMB = """
const { spawn } = require('child_process');
async function main() {
  let spawned = 0, failure = null;
  while (spawned < 5000 && failure === null) {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
    failure = await new Promise((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (e) => resolve(e.code || String(e)));
    });
    if (failure === null) spawned++;
  }
  return { spawned, failure };
}
"""


def test_a_fork_bomb_hits_the_pids_limit(jail):
    record = result_of(jail, unique("fork-bomb"), FORK_BOMB, memory=512)
    assert record["response"]["status"] == "success", record
    outcome = record["response"]["result"]
    assert outcome["failure"] == "EAGAIN"
    assert outcome["spawned"] < PIDS_LIMIT


FILL_TMP = """
const fs = require('fs');
function main() {
  const chunk = Buffer.alloc(1024 * 1024, 120);
  let written = 0, failure = null;
  try {
    const fd = fs.openSync('/tmp/filler', 'w');
    while (written < 1024 * 1024 * 1024) written += fs.writeSync(fd, chunk);
  } catch (e) { failure = e.code; }
  return { written, failure };
}
"""


def test_filling_tmp_stops_at_its_size(jail):
    record = result_of(jail, unique("fill-tmp"), FILL_TMP)
    outcome = record["response"]["result"]
    assert outcome["failure"] == "ENOSPC"
    assert outcome["written"] <= TMP_MB * 1024 * 1024


# The runner's socket is in a host directory bind-mounted into the container and writable by it: the
# directory itself is a small tmpfs, so filling it cannot fill the host's disk.
FILL_RUN_DIR = """
const fs = require('fs');
function main() {
  const chunk = Buffer.alloc(1024 * 1024, 120);
  let written = 0, failure = null;
  try {
    const log = fs.openSync('/run/whisklet/fill', 'a');
    while (written < 1024 * 1024 * 1024) written += fs.writeSync(log, chunk);
  } catch (e) { failure = e.code; }
  try {
    for (let n = 0; n < 100000; n++) fs.writeFileSync(`/run/whisklet/f${n}`, 'x');
  } catch (e) { failure += ' ' + e.code; }
  console.log('still logging');
  return { written, failure };
}
"""


def test_filling_the_run_directory_cannot_fill_the_hosts_disk(jail, confined):
    record = result_of(jail, unique("fill-logs"), FILL_RUN_DIR)
    outcome = record["response"]["result"]
    assert outcome["failure"] == "ENOSPC ENOSPC"
    assert outcome["written"] <= RUN_DIR_MB * 1024 * 1024
    stored = activation(jail, record["activationId"])
    assert stored["response"]["status"] == "success"
    assert sum(len(line) for line in stored["logs"]) <= 10 * 1024 * 1024 + 64 * 1024  # what is read is capped too
    assert wait_until(lambda: not list((confined.data_dir / "run").glob("whisklet-*/f*")))  # nothing left


CHILD_MEMORY_HOG = """
const { spawnSync } = require('child_process');
function main() {
  const hog = spawnSync(process.execPath, ['-e', `
    const kept = [];
    for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1));
  `], { stdio: 'ignore', timeout: 50000 });
  return { signal: hog.signal, status: hog.status };
}
"""


def test_a_child_process_cannot_use_more_than_the_containers_memory(jail):
    record = result_of(jail, unique("child-hog"), CHILD_MEMORY_HOG, memory=128)
    if record["response"]["status"] == "success":  # the kernel chose the child
        assert record["response"]["result"] == {"signal": "SIGKILL", "status": None}
    else:  # or the runner itself
        assert record["response"]["result"] == {"error": "The action exhausted its memory and was aborted."}
    assert annotations(record)["timeout"] is False


OUTLIVER = """
const { spawn } = require('child_process');
function main() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  child.unref();
  return { container: require('os').hostname(), child: child.pid };
}
"""


def host_processes_of(sandbox: str) -> list[str]:
    """Host pids in the sandbox's cgroup: a container's id starts with its hostname, and a namespace
    sandbox's cgroup is named after it (its hostname too)."""
    found = []
    for cgroup in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            if re.search(rf"\b{sandbox}[0-9a-f]*\b", cgroup.read_text()):
                found.append(cgroup.parent.name)
        except OSError:
            continue  # the process ended while we looked
    return found


def container_ids(name: str) -> list[str]:
    """The Docker container id's first 12 digits for `name`, if the engine knows it; a namespace
    sandbox's cgroup carries its name itself."""
    done = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True)
    return [done.stdout.strip()[:12]] if done.returncode == 0 and done.stdout.strip() else []


def test_a_process_left_running_after_the_activation_dies_with_its_container(jail, confined):
    def a_running_sandbox_is_seen() -> bool:  # the check below does see a live sandbox's processes
        return any(host_processes_of(key) for name in sandbox_names(confined.data_dir)
                   for key in [name, *container_ids(name)])

    assert wait_until(a_running_sandbox_is_seen, timeout_s=30)
    record = result_of(jail, unique("outliver"), OUTLIVER)
    sandbox = record["response"]["result"]["container"]
    assert wait_until(lambda: not any(name for name in sandbox_names(confined.data_dir) if sandbox in name) and
                      not host_processes_of(sandbox), timeout_s=30)


# Reaching out of the container

PROBE = """
const fs = require('fs');
const net = require('net');
function probe(path) {
  try { fs.statSync(path); return 'reachable'; } catch (e) { return e.code; }
}
function sockets(dir, found = []) {
  let entries = [];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return found; }
  for (const entry of entries) {
    const path = `${dir === '/' ? '' : dir}/${entry.name}`;
    if (['/proc', '/sys', '/dev'].includes(path)) continue;
    if (entry.isSocket()) found.push(path);
    else if (entry.isDirectory()) sockets(path, found);
  }
  return found;
}
function connect(options) {
  return new Promise((resolve) => {
    const socket = net.connect(options);
    socket.setTimeout(3000, () => { socket.destroy(); resolve('timeout'); });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (e) => resolve(e.code));
  });
}
async function main(params) {
  return {
    paths: Object.fromEntries(params.paths.map((path) => [path, probe(path)])),
    sockets: sockets('/'),
    runDir: fs.readdirSync('/run/whisklet').sort(),
    processes: fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).length,
    gateway: await connect({ host: '127.0.0.1', port: params.port }),
    interfaces: Object.keys(require('os').networkInterfaces()),
  };
}
"""


def test_an_action_reaches_no_host_file_no_other_container_and_no_docker_socket(wsk, whisklet):
    data_dir = whisklet.data_dir
    host_paths = [
        str(data_dir / "whisklet.db"), str(data_dir / "wskprops"), str(data_dir / "run"),
        "/var/run/docker.sock", "/run/docker.sock", "/run/containerd", str(REPO / "pyproject.toml"),
        "/root", "/home", "/etc/shadow", "/var/lib/docker",
    ]
    record = result_of(wsk, unique("probe"), PROBE, {"paths": host_paths, "port": whisklet.port})
    seen = record["response"]["result"]
    assert seen["paths"] == {path: "ENOENT" for path in host_paths}
    assert seen["sockets"] == ["/run/whisklet/runner.sock"]  # its own runner's, no other container's
    # The Docker driver's two output FIFOs are the runner's stdout and stderr; the namespace driver's are pipes.
    output_fifos = ["stderr", "stdout"] if os.environ.get("WHISKLET_POOL_DRIVER") == "docker" else []
    assert seen["runDir"] == ["runner.sock", *output_fifos]
    assert seen["processes"] == 1
    assert seen["gateway"] == "ECONNREFUSED"  # 127.0.0.1 inside is its own loopback: no way to the host
    assert seen["interfaces"] in ([], ["lo"], ["lo", "tap0"])  # tap0: slirp4netns, for `internet` egress


# Keys and namespaces

@pytest.fixture(scope="module")
def stranger(whisklet) -> tuple[str, str]:
    """A second namespace on the shared server, created as an operator would."""
    done = subprocess.run(
        [str(WHISKLET), "namespace", "create", unique("stranger"), "--data-dir", str(whisklet.data_dir)],
        capture_output=True, text=True, check=True,
    )
    uuid, key = done.stdout.strip().split(":")
    return uuid, key


def test_another_namespaces_key_can_neither_read_nor_invoke_guests_private_entities(wsk, whisklet, stranger):
    name = unique("private")
    put_action(wsk, name, "function main() { return {secret: 42}; }")
    guest_activation = invoke(wsk, name).json()["activationId"]
    with httpx.Client(base_url=whisklet.url, auth=stranger, timeout=60) as other:
        for method, path in [
            ("GET", f"/api/v1/namespaces/guest/actions/{name}"),
            ("POST", f"/api/v1/namespaces/guest/actions/{name}"),
            ("PUT", f"/api/v1/namespaces/guest/actions/{name}"),
            ("DELETE", f"/api/v1/namespaces/guest/actions/{name}"),
            ("GET", "/api/v1/namespaces/guest/actions"),
            ("GET", f"/api/v1/namespaces/guest/activations/{guest_activation}"),
            ("GET", "/api/v1/namespaces/guest/limits"),
        ]:
            response = other.request(method, path, json={} if method in ("PUT", "POST") else None)
            assert response.status_code == 403, (method, path, response.text)
        missing = other.get("/api/v1/namespaces/guest/actions/does-not-exist")
        assert missing.status_code == 403  # before existence: nothing is learnt about guest
        own = other.get(f"{NS}/activations/{guest_activation}")
        assert own.status_code == 404  # through `_` it is its own namespace, where guest's record is not
    assert invoke(wsk, name, result=True).json() == {"secret": 42}  # guest's action is untouched


def test_keys_never_reach_the_servers_log(wsk, whisklet, stranger):
    uuid, key = stranger
    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    with httpx.Client(base_url=whisklet.url, timeout=60) as client:
        client.get("/api/v1/namespaces", auth=(uuid, key))
        client.get("/api/v1/namespaces", auth=(uuid, wrong))
        client.post(f"{NS}/actions/none", auth=(uuid, key), content=b"{not json",
                    headers={"content-type": "application/json"})
        client.get(f"{NS}/activations/{'0' * 32}", auth=(uuid, key))
        client.get("/api/v1/namespaces", headers={"authorization": ("Basic \u00e9" + key).encode("latin-1")})
        client.get("/api/v1/namespaces", headers={"authorization": key})
    put_action(wsk, unique("fails"), "function main() { throw new Error('boom'); }")
    output = "".join(whisklet.output)
    assert key not in output
    assert wrong not in output
