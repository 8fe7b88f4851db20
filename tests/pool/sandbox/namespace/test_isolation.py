"""What an action in a namespace sandbox can and cannot reach (pool/sandbox/namespace/driver.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.probe import run_action
from pool.runner.client import RunnerConnection, RunnerGone
from pool.sandbox.driver import SandboxError
from pool.sandbox.namespace.driver import NamespaceDriver
from tests.pool.sandbox.namespace import sandboxes
from tests.pool.sandbox.namespace.sandboxes import (
    cgroup_dirs,
    host_dirs,
    namespace_missing,
    opened,
    pids_in,
    process_alive,
)

pytestmark = pytest.mark.skipif(bool(namespace_missing()), reason="the namespace sandbox cannot run here")
home = sandboxes.home  # a fixture
driver = sandboxes.driver  # a fixture

PROBE_SOURCE = Path(__file__).with_name("probe.c")
SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"


async def run_in_new_sandbox(driver: NamespaceDriver, code: str, value: dict[str, Any] | None = None) -> Any:
    sandbox = await driver.create(128)
    try:
        return await run_action(sandbox, code, value)
    finally:
        await driver.destroy(sandbox)


async def test_runner_is_uid_1000_without_capabilities_under_seccomp_with_a_read_only_root(
    driver: NamespaceDriver,
) -> None:
    seen = await run_in_new_sandbox(driver, """
        function main() {
          const fs = require('fs');
          const status = fs.readFileSync('/proc/self/status', 'utf8');
          const field = (name) => status.match(new RegExp('^' + name + ':\\\\s*(.*)$', 'm'))[1].trim();
          const attempt = (f) => { try { f(); return 'allowed'; } catch (e) { return e.code; } };
          return {uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
                  capEff: field('CapEff'), capPrm: field('CapPrm'), capBnd: field('CapBnd'),
                  noNewPrivs: field('NoNewPrivs'), seccomp: field('Seccomp'),
                  rootWrite: attempt(() => fs.writeFileSync('/etc/probe', 'x')),
                  optWrite: attempt(() => fs.writeFileSync('/opt/whisklet/runner.js', 'x')),
                  tmpWrite: attempt(() => fs.writeFileSync('/tmp/probe', 'x')),
                  nofile: fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\\s+(\\d+)/)[1],
                  env: Object.keys(process.env).sort(),
                  passwd: fs.readFileSync('/etc/passwd', 'utf8').trim().split('\\n').map(l => l.split(':')[0])};
        }""")
    assert seen == {
        "uid": 1000, "gid": 1000, "groups": [1000], "capEff": "0000000000000000", "capPrm": "0000000000000000",
        "capBnd": "0000000000000000", "noNewPrivs": "1", "seccomp": "2", "rootWrite": "EROFS",
        "optWrite": "EROFS", "tmpWrite": "allowed", "nofile": "1024", "env": ["HOME", "PATH", "PWD"],
        "passwd": ["root", "whisk"],
    }


async def test_root_holds_only_the_runtime_files_and_no_host_process_is_visible(driver: NamespaceDriver) -> None:
    seen = await run_in_new_sandbox(driver, """
        function main() {
          const fs = require('fs');
          return {root: fs.readdirSync('/').sort(),
                  pids: fs.readdirSync('/proc').filter(n => /^\\d+$/.test(n)).length,
                  home: fs.existsSync('/root') || fs.existsSync('/home') || fs.existsSync('/var'),
                  shell: fs.existsSync('/bin/sh')};
        }""")
    assert set(seen["root"]) <= {"dev", "etc", "lib", "lib64", "node_modules", "opt", "proc", "run", "sys", "tmp", "usr"}
    assert seen["pids"] == 1  # the runner alone, as PID 1 (as in a Docker container)
    assert (seen["home"], seen["shell"]) == (False, False)


async def test_proc_paths_docker_masks_are_masked(driver: NamespaceDriver) -> None:
    seen = await run_in_new_sandbox(driver, """
        function main() {
          const fs = require('fs');
          const read = (p) => { try { return fs.readFileSync(p, 'utf8').length > 0 ? 'read' : 'empty'; }
                                catch (e) { return e.code; } };
          const list = (p) => { try { return fs.readdirSync(p).length; } catch (e) { return e.code; } };
          return {keys: read('/proc/keys'), timers: read('/proc/timer_list'), acpi: list('/proc/acpi'),
                  sysWrite: (() => { try { fs.writeFileSync('/proc/sys/kernel/hostname', 'x'); return 'allowed'; }
                                     catch (e) { return e.code; } })()};
        }""")
    assert seen["keys"] in ("EACCES", "ENOENT") and seen["timers"] in ("EACCES", "ENOENT")
    assert seen["acpi"] in (0, "ENOENT") and seen["sysWrite"] in ("EROFS", "EACCES")


async def test_dev_holds_the_usual_nodes_and_refuses_writes(driver: NamespaceDriver) -> None:
    seen = await run_in_new_sandbox(driver, """
        function main() {
          const fs = require('fs');
          const attempt = (f) => { try { f(); return 'allowed'; } catch (e) { return e.code; } };
          return {dev: fs.readdirSync('/dev').sort(),
                  create: attempt(() => fs.writeFileSync('/dev/probe', 'x')),
                  mkdir: attempt(() => fs.mkdirSync('/dev/shm/probe')),
                  nullWrite: attempt(() => fs.writeFileSync('/dev/null', 'x'))};
        }""")
    assert set(seen["dev"]) <= {"console", "core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                                "stdin", "stdout", "tty", "urandom", "zero"}
    assert (seen["create"], seen["mkdir"], seen["nullWrite"]) == ("EROFS", "EROFS", "allowed")


async def test_sandbox_has_no_network(driver: NamespaceDriver) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        seen = await run_in_new_sandbox(driver, """
            function main(p) {
              const interfaces = Object.keys(require('os').networkInterfaces());
              return new Promise((resolve) => {
                const s = require('net').connect(p.port, '127.0.0.1');
                s.on('connect', () => { s.destroy(); resolve({interfaces, connect: 'connected'}); });
                s.on('error', (e) => resolve({interfaces, connect: e.code}));
              });
            }""", {"port": listener.getsockname()[1]})
    finally:
        listener.close()
    assert seen == {"interfaces": ["lo"], "connect": "ECONNREFUSED"}


async def test_a_sandbox_sees_only_its_own_socket_not_another_sandboxs(driver: NamespaceDriver) -> None:
    other = await driver.create(128)
    try:
        seen = await run_in_new_sandbox(driver, """
            function main(p) {
              const fs = require('fs');
              return {own: fs.readdirSync('/run/whisklet'),
                      other: fs.existsSync(p.other), parent: fs.readdirSync('/run').sort()};
            }""", {"other": other.socket_path})
        # /run/whisklet-api is empty unless the sandbox's egress allows Whisklet's API (not here: `none`)
        assert seen == {"own": ["runner.sock"], "other": False, "parent": ["whisklet", "whisklet-api"]}
    finally:
        await driver.destroy(other)


async def test_seccomp_refuses_namespaces_mount_ptrace_keyctl_bpf_and_io_uring(driver: NamespaceDriver) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the probe")
    binary = PROBE_SOURCE.with_suffix("")
    await asyncio.to_thread(subprocess.run, [compiler, "-O", "-o", str(binary), str(PROBE_SOURCE)], check=True)
    try:
        probe = base64.b64encode(binary.read_bytes()).decode()
    finally:
        binary.unlink()
    seen = await run_in_new_sandbox(driver, """
        function main(p) {
          const fs = require('fs');
          fs.writeFileSync('/tmp/probe', Buffer.from(p.probe, 'base64'), {mode: 0o755});
          const out = require('child_process').execFileSync('/tmp/probe', {encoding: 'utf8'});
          return Object.fromEntries(out.trim().split('\\n').map(l => l.split(' ')).map(([k, v]) => [k, +v]));
        }""", {"probe": probe})
    refused = {name: errno.EPERM for name in ("unshare_user", "unshare_mount", "unshare_net", "clone_newuser",
                                               "mount", "ptrace", "keyctl", "add_key", "bpf", "perf_event_open",
                                               "setns", "personality")}
    assert seen == {**refused, "io_uring_setup": errno.ENOSYS, "getpid": 0}


async def test_a_fork_bomb_stays_inside_the_pids_limit_and_dies_with_its_sandbox(home: tuple[Path, Path]) -> None:
    async with opened("sandbox", *home, pids_limit=64) as driver:
        sandbox = await driver.create(128)
        seen = await run_action(sandbox, """
            function main() {
              const {spawn} = require('child_process');
              let started = 0, refused = 0;
              for (let i = 0; i < 200; i++) {
                try {
                  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {detached: true, stdio: 'ignore'});
                  c.on('error', () => {}); c.unref(); if (c.pid) started++; else refused++;
                } catch (e) { refused++; }
              }
              return {started, refused};
            }""")
        assert seen["started"] < 64 and seen["refused"] > 0
        inside = pids_in(home[0])
        assert inside
        await driver.destroy(sandbox)
        assert [pid for pid in inside if process_alive(pid)] == []
        assert pids_in(home[0]) == []


async def test_a_detached_child_process_is_gone_after_destroy(driver: NamespaceDriver, home: tuple[Path, Path]) -> None:
    sandbox = await driver.create(128)
    await run_action(sandbox, """
        function main() {
          const c = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'],
                                                  {detached: true, stdio: 'ignore'});
          c.unref();
          return {child: c.pid};
        }""")
    inside = pids_in(home[0])
    assert len(set(inside)) == 3  # bubblewrap, the runner, the child
    await driver.destroy(sandbox)
    assert [pid for pid in inside if process_alive(pid)] == []


async def test_runner_output_reaches_the_gateway_through_pipes(driver: NamespaceDriver) -> None:
    sandbox = await driver.create(128)
    try:
        output = sandbox.output
        await run_action(sandbox, """
            function main() {
              require('fs').writeSync(1, 'to stdout\\n');
              require('fs').writeSync(2, 'to stderr\\n');
              return {};
            }""")
        seen: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        async with asyncio.timeout(10):
            while not all(SENTINEL in data for data in seen.values()):
                chunk = await output.read()
                assert chunk is not None
                seen[chunk[0]] += chunk[1]
    finally:
        await driver.destroy(sandbox)
    assert seen == {"stdout": b"to stdout\n" + SENTINEL, "stderr": b"to stderr\n" + SENTINEL}
    assert await output.read() is None


async def test_resource_use_reports_cpu_time_and_peak_memory_of_a_live_sandbox(driver: NamespaceDriver) -> None:
    sandbox = await driver.create(128)
    try:
        await run_action(sandbox, "function main() { const a = Buffer.alloc(32 * 1024 * 1024, 1); return {n: a.length}; }")
        use = await driver.resource_use(sandbox)
    finally:
        await driver.destroy(sandbox)
    assert use is not None
    assert use.cpu_ms > 0
    assert use.peak_memory_bytes is not None and use.peak_memory_bytes > 32 * 1024 * 1024


async def test_a_sandbox_killed_from_outside_is_reported_gone(driver: NamespaceDriver, home: tuple[Path, Path]) -> None:
    sandbox = await driver.create(128)
    try:
        for pid in pids_in(home[0]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        exit = await driver.exit_reason(sandbox)
        assert (exit.running, exit.oom_killed) == (False, False)
        with pytest.raises(RunnerGone):
            conn = await RunnerConnection.open(sandbox.socket_path)
            try:
                await conn.request("GET", "/health")
            finally:
                await conn.close()
    finally:
        await driver.destroy(sandbox)


async def test_links_and_a_full_host_directory_neither_stall_destroy_nor_reach_host_files(
    driver: NamespaceDriver, home: tuple[Path, Path]
) -> None:
    keep = home[0] / "keep"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text("host data")
    sandbox = await driver.create(128)
    seen = await run_action(sandbox, """
        function main(p) {
          const fs = require('fs');
          const attempt = (f) => { try { f(); return 'made'; } catch (e) { return e.code; } };
          const made = {
            link: attempt(() => fs.symlinkSync(p.keep, '/run/whisklet/link')),
            dirLink: attempt(() => fs.symlinkSync(require('path').dirname(p.keep), '/run/whisklet/dir')),
            fill: attempt(() => { for (let i = 0; i < 64; i++) fs.writeFileSync(`/run/whisklet/f${i}`, Buffer.alloc(1 << 20)); }),
          };
          return made;
        }""", {"keep": str(keep)})
    assert seen == {"link": "made", "dirLink": "made", "fill": "ENOSPC"}  # the host directory's own quota
    async with asyncio.timeout(10):
        await driver.destroy(sandbox)
    assert keep.read_text() == "host data"
    assert not Path(sandbox.socket_path).parent.exists()


async def test_a_runner_that_cannot_start_is_a_sandbox_error_that_leaves_nothing(home: tuple[Path, Path]) -> None:
    async with opened("sandbox", *home, pids_limit=1) as driver:  # bubblewrap cannot even fork
        with pytest.raises(SandboxError, match="exited before answering"):
            await driver.create(128)
        assert host_dirs(driver, *home) == []
        assert cgroup_dirs(home[0]) == []
