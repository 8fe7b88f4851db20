"""The runtime image (pool/sandbox/docker/image.py), built into private `whisklet-test-*` repositories."""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import pytest

from pool.runtime.nodejs.files import RUNNER_MODULES, RUNNER_PATH, node_major
from pool.sandbox.docker.image import DIGEST_LABEL, ensure_image, runtime_tag
from pool.sandbox.driver import EngineUnavailable

pytestmark = pytest.mark.docker

NODE = "/usr/bin/node"


@pytest.fixture
async def repository(docker: aiodocker.Docker) -> AsyncIterator[str]:
    """A private repository name; every image in it is removed afterwards."""
    name = "whisklet-test-" + secrets.token_hex(4)
    yield name
    for image in await docker.images.list(filters={"reference": [name]}):
        tags = image.get("RepoTags") or []
        assert tags and all(tag.startswith(name + ":") for tag in tags), tags
        await docker.images.delete(image["Id"], force=True)


@pytest.fixture
def runner(tmp_path: Path) -> Path:
    path = tmp_path / "runner.js"
    path.write_bytes(RUNNER_PATH.read_bytes())
    for name in RUNNER_MODULES:
        (tmp_path / name).write_bytes((RUNNER_PATH.parent / name).read_bytes())
    return path


async def image_id(docker: aiodocker.Docker, tag: str) -> str:
    return (await docker.images.inspect(tag))["Id"]


def test_tag_follows_the_host_node_major() -> None:
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout
    major = int(re.match(r"v(\d+)\.", version).group(1))
    assert node_major(NODE) == major
    assert runtime_tag(NODE) == f"whisklet-nodejs:{major}"


async def test_image_is_built_once_and_reused(docker: aiodocker.Docker, repository: str, runner: Path) -> None:
    tag = await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    assert tag == f"{repository}:{node_major(NODE)}"
    first = await image_id(docker, tag)
    assert await ensure_image(docker, NODE, runner_path=runner, repository=repository) == tag
    assert await image_id(docker, tag) == first
    # A forced build is visible as a new image, so the check above would catch a silent rebuild.
    await ensure_image(docker, NODE, runner_path=runner, repository=repository, force=True)
    assert await image_id(docker, tag) != first


async def test_changed_runner_rebuilds_the_image_and_drops_the_old_one(
    docker: aiodocker.Docker, repository: str, runner: Path
) -> None:
    tag = await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    old = await docker.images.inspect(tag)
    runner.write_bytes(runner.read_bytes() + b"\n// changed\n")
    await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    new = await docker.images.inspect(tag)
    assert new["Id"] != old["Id"]
    assert new["Config"]["Labels"][DIGEST_LABEL] != old["Config"]["Labels"][DIGEST_LABEL]
    with pytest.raises(aiodocker.DockerError) as missing:
        await docker.images.inspect(old["Id"])
    assert missing.value.status == 404


async def test_changed_runner_module_rebuilds_the_image(
    docker: aiodocker.Docker, repository: str, runner: Path
) -> None:
    tag = await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    old = await docker.images.inspect(tag)
    module = runner.parent / "archive.js"
    module.write_bytes(module.read_bytes() + b"\n// changed\n")
    await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    assert (await docker.images.inspect(tag))["Config"]["Labels"][DIGEST_LABEL] != old["Config"]["Labels"][DIGEST_LABEL]


async def test_image_config_runs_the_runner_unprivileged_with_a_minimal_env(
    docker: aiodocker.Docker, repository: str, runner: Path
) -> None:
    tag = await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    config = (await docker.images.inspect(tag))["Config"]
    assert config["Cmd"] == ["node", "--expose-gc", "/opt/whisklet/runner.js"]
    assert not config.get("Entrypoint")
    assert config["WorkingDir"] == "/tmp"
    assert config["User"] == "1000:1000"
    assert [entry.split("=", 1)[0] for entry in config["Env"]] == ["PATH"]
    assert config["Labels"][DIGEST_LABEL].startswith("sha256:")


async def test_image_holds_node_the_runner_and_only_root_and_whisk(
    docker: aiodocker.Docker, repository: str, runner: Path
) -> None:
    tag = await ensure_image(docker, NODE, runner_path=runner, repository=repository)
    container = await docker.containers.create(
        {"Image": tag, "Labels": {"whisklet.sandbox": repository}, "HostConfig": {"NetworkMode": "none"}}
    )
    try:
        files = {}
        for path in ("/etc/passwd", "/etc/group", "/opt/whisklet/runner.js", "/opt/whisklet/archive.js",
                     "/usr/local/bin/node"):
            archive = await container.get_archive(path)
            member = archive.getmembers()[0]
            files[path] = (member, archive.extractfile(member).read() if member.size < 1 << 20 else None)
        assert files["/etc/passwd"][1].decode().splitlines() == [
            "root:x:0:0:root:/root:/sbin/nologin", "whisk:x:1000:1000:whisk:/tmp:/sbin/nologin"]
        assert files["/etc/group"][1].decode().splitlines() == ["root:x:0:", "whisk:x:1000:"]
        assert files["/opt/whisklet/runner.js"][1] == runner.read_bytes()
        assert files["/opt/whisklet/archive.js"][1] == (runner.parent / "archive.js").read_bytes()
        node = files["/usr/local/bin/node"][0]
        assert node.size == Path(NODE).stat().st_size and node.mode & 0o111
        tmp = await container.get_archive("/tmp")
        assert [m.name for m in tmp.getmembers()] == ["tmp"]
    finally:
        await container.delete(force=True)


async def test_unreachable_engine_raises_engine_unavailable(tmp_path: Path, runner: Path) -> None:
    unreachable = aiodocker.Docker(url=f"unix://{tmp_path}/no-engine.sock")
    try:
        with pytest.raises(EngineUnavailable):
            await ensure_image(unreachable, NODE, runner_path=runner, repository="whisklet-test-unreachable")
    finally:
        await unreachable.close()
