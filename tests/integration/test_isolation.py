"""A fresh container per activation: nothing carries over, and every container is removed."""

import subprocess

from bench.serving import wait_until
from tests.integration.actions import invoke, put_action, unique

# Leaves a global, a /tmp file and a detached child process behind, then reports what it found.
LEAVES_TRACES = """
const fs = require('fs');
const { spawn, execSync } = require('child_process');
function main() {
  const seen = {
    global: globalThis.leftBehind || null,
    file: fs.existsSync('/tmp/left-behind'),
    processes: fs.readdirSync('/proc').filter(p => /^[0-9]+$/.test(p)).length,
    host: require('os').hostname(),
  };
  globalThis.leftBehind = 'from an earlier activation';
  fs.writeFileSync('/tmp/left-behind', 'x');
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  child.unref();
  return seen;
}
"""


def test_second_activation_sees_none_of_the_first_ones_globals_files_or_processes(wsk):
    name = unique("traces")
    put_action(wsk, name, LEAVES_TRACES)
    first = invoke(wsk, name, result=True).json()
    second = invoke(wsk, name, result=True).json()
    for seen in (first, second):
        assert seen["global"] is None
        assert seen["file"] is False
        assert seen["processes"] == 1  # the runner alone: no child of an earlier activation
    assert first["host"] != second["host"]


def test_the_container_of_every_activation_is_gone_afterwards(wsk):
    name = unique("host")
    put_action(wsk, name, "function main() { return {host: require('os').hostname()}; }")
    hosts = [invoke(wsk, name, result=True).json()["host"] for _ in range(4)]
    assert len(set(hosts)) == 4

    def all_removed() -> bool:
        listed = subprocess.run(["docker", "ps", "-aq", "--no-trunc"], capture_output=True, text=True).stdout
        return not any(listed_id.startswith(host) for host in hosts for listed_id in listed.split())

    assert wait_until(all_removed, timeout_s=20)


def test_the_container_has_no_network_but_its_egress_policys(wsk):
    name = unique("net")
    put_action(wsk, name, "function main() { return {interfaces: Object.keys(require('os').networkInterfaces())}; }")
    # lo, and with the default `internet` egress on the namespace driver slirp4netns's tap0 (tests/*/test_egress.py)
    assert invoke(wsk, name, result=True).json()["interfaces"] in ([], ["lo"], ["lo", "tap0"])


def test_the_action_runs_unprivileged_on_a_read_only_root(wsk):
    name = unique("priv")
    put_action(
        wsk, name,
        "function main() { let writable = true; try { require('fs').writeFileSync('/etc/x', 'x'); } "
        "catch (e) { writable = false; } return {uid: process.getuid(), rootWritable: writable}; }",
    )
    assert invoke(wsk, name, result=True).json() == {"uid": 1000, "rootWritable": False}
