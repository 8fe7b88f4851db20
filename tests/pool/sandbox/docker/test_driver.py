"""The Docker sandbox driver (pool/sandbox/docker/driver.py) against the real engine and the real runner."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiodocker
import pytest

from pool.runner.client import RunnerConnection, RunnerGone
from pool.runner.logs import LogCollector
from pool.runtime.nodejs.files import RUNNER_MODULES
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.docker.driver import DockerDriver
from pool.sandbox.docker.image import REPOSITORY, ensure_image, ensure_images
from pool.sandbox.driver import EngineUnavailable, Sandbox, SandboxError

pytestmark = pytest.mark.docker

MIB = 1024 * 1024


@pytest.fixture
async def image(docker: aiodocker.Docker) -> str:
    # `WHISKLET_DOCKER_REPOSITORY`, as `whisklet serve` reads it: a checkout testing a changed runner
    # can keep its image apart from another's on the same engine.
    images = await ensure_images(docker, repository=os.environ.get("WHISKLET_DOCKER_REPOSITORY", REPOSITORY))
    return images[DEFAULT_KIND]


@pytest.fixture
def run_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: a Unix socket path must stay under 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="wkt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def instance(docker: aiodocker.Docker) -> AsyncIterator[str]:
    """A label value unique to the test; every container carrying it is removed afterwards."""
    value = "test-" + secrets.token_hex(4)
    yield value
    leftovers = await docker.containers.list(
        all=True, filters=json.dumps({"label": [f"whisklet.instance={value}"]})
    )
    for container in leftovers:
        await container.delete(force=True, v=True)


@pytest.fixture
def driver(docker: aiodocker.Docker, image: str, run_dir: Path, instance: str) -> DockerDriver:
    return DockerDriver(docker, {DEFAULT_KIND: image}, run_dir, instance)


async def containers_of(docker: aiodocker.Docker, label: str) -> list[str]:
    found = await docker.containers.list(all=True, filters=json.dumps({"label": [label]}))
    return [container.id for container in found]


async def init_and_run(sandbox: Sandbox, code: str) -> dict:
    """/init then /run `code`'s `main` in the sandbox; the /run reply's JSON."""
    conn = await RunnerConnection.open(sandbox.socket_path)
    try:
        async with asyncio.timeout(30):
            init = {"value": {"name": "probe", "main": "main", "code": code}}
            reply = await conn.request("POST", "/init", json.dumps(init).encode())
            assert reply.status == 200, reply
            reply = await conn.request("POST", "/run", b'{"value":{}}')
    finally:
        await conn.close()
    assert reply.status == 200, reply
    return json.loads(reply.body)


async def test_a_created_sandboxs_host_directory_is_its_own_and_holds_only_the_socket_and_output_fifos(
    driver: DockerDriver, run_dir: Path
) -> None:
    # that it answers on that socket is the contract suite's (tests/pool/sandbox/test_contract.py)
    sandbox = await driver.create(128)
    try:
        assert sandbox.name.startswith("whisklet-")
        assert Path(sandbox.socket_path).parent == run_dir / sandbox.name
        assert stat.S_ISSOCK(os.stat(sandbox.socket_path).st_mode)
        host_dir = os.stat(run_dir / sandbox.name)
        assert (stat.S_IMODE(host_dir.st_mode), host_dir.st_uid, host_dir.st_gid) == (0o700, 1000, 1000)
        assert sorted(os.listdir(run_dir / sandbox.name)) == ["runner.sock", "stderr", "stdout"]
    finally:
        await driver.destroy(sandbox)


async def test_the_runners_stdout_and_stderr_reach_the_gateway_with_the_sentinels(driver: DockerDriver) -> None:
    sandbox = await driver.create(128)
    try:
        logs = LogCollector(sandbox.output, 10_000)
        assert await init_and_run(sandbox, "function main() { console.log('out'); console.error('err'); return {} }") == {}
        lines, complete = await logs.finish(10.0)
        # two streams: lines keep their order within a stream, and arrive in any order across them
        assert sorted(line[31:] for line in lines) == ["stderr: err", "stdout: out"]
        assert complete  # by the sentinels: the runner is still running
    finally:
        await driver.destroy(sandbox)


async def test_destroy_ends_the_sandboxs_output(driver: DockerDriver) -> None:
    sandbox = await driver.create(128)
    await driver.destroy(sandbox)
    async with asyncio.timeout(10):
        assert await sandbox.output.read() is None


async def test_sandbox_is_hardened(driver: DockerDriver, docker: aiodocker.Docker, instance: str) -> None:
    sandbox = await driver.create(128)
    try:
        info = await (await docker.containers.get(sandbox.id)).show()
        host = info["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["Privileged"] is False
        assert info["Config"]["User"] == "1000:1000"
        assert host["Memory"] == host["MemorySwap"] == 128 * MIB
        assert host["PidsLimit"] == 1024
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
        assert "size=64m" in host["Tmpfs"]["/tmp"] and "nosuid" in host["Tmpfs"]["/tmp"]
        assert host["LogConfig"]["Type"] == "none"
        labels = info["Config"]["Labels"]
        assert labels["whisklet.sandbox"] == "1"
        assert labels["whisklet.instance"] == instance
        assert labels["whisklet.memory_mb"] == "128"

        seen = await init_and_run(sandbox, """
            function main() {
              const fs = require('fs');
              const status = fs.readFileSync('/proc/self/status', 'utf8');
              const field = (name) => status.match(new RegExp('^' + name + ':\\\\s*(.*)$', 'm'))[1].trim();
              let rootWrite = 'allowed';
              try { fs.writeFileSync('/etc/probe', 'x'); } catch (e) { rootWrite = e.code; }
              fs.writeFileSync('/tmp/probe', 'x');
              return {uid: process.getuid(), gid: process.getgid(), capEff: field('CapEff'),
                      noNewPrivs: field('NoNewPrivs'), rootWrite,
                      nofile: fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\\s+(\\d+)/)[1],
                      passwd: fs.readFileSync('/etc/passwd', 'utf8').trim().split('\\n').map(l => l.split(':')[0])};
            }""")
        assert seen == {"uid": 1000, "gid": 1000, "capEff": "0000000000000000", "noNewPrivs": "1",
                        "rootWrite": "EROFS", "nofile": "1024", "passwd": ["root", "whisk"]}
    finally:
        await driver.destroy(sandbox)


async def test_sandbox_has_no_network(driver: DockerDriver, docker: aiodocker.Docker) -> None:
    # A host listener on 127.0.0.1: an action inside must not reach it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    sandbox = await driver.create(128)
    try:
        info = await (await docker.containers.get(sandbox.id)).show()
        assert list(info["NetworkSettings"]["Networks"]) == ["none"]
        seen = await init_and_run(sandbox, f"""
            function main() {{
              const interfaces = Object.keys(require('os').networkInterfaces());
              return new Promise((resolve) => {{
                const s = require('net').connect({port}, '127.0.0.1');
                s.on('connect', () => {{ s.destroy(); resolve({{interfaces, connect: 'connected'}}); }});
                s.on('error', (e) => resolve({{interfaces, connect: e.code}}));
              }});
            }}""")
        assert seen == {"interfaces": ["lo"], "connect": "ECONNREFUSED"}
    finally:
        listener.close()
        await driver.destroy(sandbox)


async def test_destroy_removes_container_and_dir(driver: DockerDriver, docker: aiodocker.Docker,
                                                 run_dir: Path, instance: str) -> None:
    sandbox = await driver.create(128)
    assert (run_dir / sandbox.name).is_dir()
    await driver.destroy(sandbox)
    assert await containers_of(docker, f"whisklet.instance={instance}") == []
    assert not (run_dir / sandbox.name).exists()


async def test_destroy_twice_is_harmless(driver: DockerDriver, docker: aiodocker.Docker, instance: str) -> None:
    sandbox = await driver.create(128)
    await driver.destroy(sandbox)
    await driver.destroy(sandbox)
    assert await containers_of(docker, f"whisklet.instance={instance}") == []


async def test_exit_reason_reports_a_runner_that_exited(driver: DockerDriver) -> None:
    sandbox = await driver.create(128)
    try:
        with pytest.raises(RunnerGone):
            await init_and_run(sandbox, "function main() { process.exit(7); }")
        exit = await driver.exit_reason(sandbox)
        assert (exit.running, exit.oom_killed, exit.exit_code) == (False, False, 7)
        alive = await driver.create(128)
        try:
            exit = await driver.exit_reason(alive)
            assert (exit.running, exit.oom_killed, exit.exit_code) == (True, False, None)
        finally:
            await driver.destroy(alive)
    finally:
        await driver.destroy(sandbox)
    exit = await driver.exit_reason(sandbox)
    assert (exit.running, exit.exit_code) == (False, None)


@pytest.mark.parametrize("hog", [
    "const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));",
    "const keep = []; for (;;) keep.push(new Array(1024 * 1024).fill(1.5));",
], ids=["buffers", "js-arrays"])
async def test_oom_kill_is_reported(driver: DockerDriver, hog: str) -> None:
    sandbox = await driver.create(128)
    try:
        with pytest.raises(RunnerGone):
            await init_and_run(sandbox, f"function main() {{ {hog} }}")
        exit = await driver.exit_reason(sandbox)
        assert (exit.running, exit.oom_killed, exit.exit_code) == (False, True, 137)
    finally:
        await driver.destroy(sandbox)


async def test_orphans_are_removed_by_label(docker: aiodocker.Docker, image: str, run_dir: Path,
                                            instance: str) -> None:
    # A private scope, so that this test never removes another Whisklet's containers.
    scope = "test-" + secrets.token_hex(4)
    crashed = DockerDriver(docker, {DEFAULT_KIND: image}, run_dir, instance, scope=scope)
    orphans = [await crashed.create(128), await crashed.create(128)]
    bystander = DockerDriver(docker, {DEFAULT_KIND: image}, tempfile.mkdtemp(prefix="wkt-"), instance)
    unrelated = await bystander.create(128)
    try:
        restarted = DockerDriver(docker, {DEFAULT_KIND: image}, run_dir, instance + "-restarted", scope=scope)
        assert await restarted.remove_orphans() == 2
        assert await containers_of(docker, f"whisklet.sandbox={scope}") == []
        assert list(run_dir.iterdir()) == []
        assert await containers_of(docker, f"whisklet.instance={instance}") == [unrelated.id]
        assert await restarted.remove_orphans() == 0
    finally:
        await bystander.destroy(unrelated)
        shutil.rmtree(Path(unrelated.socket_path).parents[1], ignore_errors=True)
        for orphan in orphans:
            await crashed.destroy(orphan)


async def test_runner_that_never_answers_fails_create_and_leaves_nothing(
    docker: aiodocker.Docker, run_dir: Path, instance: str
) -> None:
    runner_dir = Path(tempfile.mkdtemp(prefix="wkt-"))
    repository = "whisklet-test-" + secrets.token_hex(4)
    try:
        (runner_dir / "runner.js").write_text("process.exit(3);\n")
        for module in RUNNER_MODULES:
            (runner_dir / module).write_text("")
        tag = await ensure_image(docker, runner_path=runner_dir / "runner.js", repository=repository)
        driver = DockerDriver(docker, {DEFAULT_KIND: tag}, run_dir, instance, start_timeout_s=10)
        with pytest.raises(SandboxError, match="exited with code 3"):
            await driver.create(128)
        assert await containers_of(docker, f"whisklet.instance={instance}") == []
        assert list(run_dir.iterdir()) == []
    finally:
        shutil.rmtree(runner_dir)
        for image in await docker.images.list(filters={"reference": [repository]}):
            await docker.images.delete(image["Id"], force=True)


async def test_cancelled_create_leaves_nothing(driver: DockerDriver, docker: aiodocker.Docker,
                                               run_dir: Path, instance: str) -> None:
    for delay_s in (0.0, 0.05, 0.2):
        creating = asyncio.create_task(driver.create(128))
        await asyncio.sleep(delay_s)
        creating.cancel()
        try:
            sandbox = await creating
        except asyncio.CancelledError:
            pass
        else:  # it finished before the cancellation landed
            await driver.destroy(sandbox)
    await driver.close()
    assert await containers_of(docker, f"whisklet.instance={instance}") == []
    assert list(run_dir.iterdir()) == []


async def test_unreachable_engine_raises_engine_unavailable(image: str, run_dir: Path) -> None:
    unreachable = aiodocker.Docker(url=f"unix://{run_dir}/no-engine.sock")
    try:
        driver = DockerDriver(unreachable, {DEFAULT_KIND: image}, run_dir, "test-unreachable")
        with pytest.raises(EngineUnavailable):
            await driver.create(128)
        with pytest.raises(EngineUnavailable):
            await driver.remove_orphans()
        assert list(run_dir.iterdir()) == []
    finally:
        await unreachable.close()


async def test_close_removes_creations_in_flight(driver: DockerDriver, docker: aiodocker.Docker,
                                                 run_dir: Path, instance: str) -> None:
    creating = asyncio.create_task(driver.create(128))
    await asyncio.sleep(0.1)
    await driver.close()
    try:
        sandbox = await creating
    except SandboxError:
        pass
    else:  # it finished before close() got to it
        await driver.destroy(sandbox)
    assert await containers_of(docker, f"whisklet.instance={instance}") == []
    assert list(run_dir.iterdir()) == []
