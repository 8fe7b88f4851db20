import os
import subprocess
from pathlib import Path

import pytest

from bench.serving import ServedWhisklet, docker_available


def pytest_collection_modifyitems(config, items):
    if docker_available():
        return
    if os.environ.get("WHISKLET_REQUIRE_DOCKER"):
        raise pytest.UsageError("WHISKLET_REQUIRE_DOCKER is set but no Docker engine answers `docker info`")
    skip = pytest.mark.skip(reason="no Docker engine answers; run ./scripts/test to set one up")
    for item in items:
        if _needs_docker(item):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def whisklet(tmp_path_factory):
    """One Whisklet shared by the tests that only need a running server."""
    served = ServedWhisklet(tmp_path_factory.mktemp("whisklet-data")).start()
    yield served
    served.stop()


@pytest.fixture(scope="session", autouse=True)
def _unmount_killed_servers_run_dirs(tmp_path_factory):
    """A SIGKILLed `whisklet serve` leaves its containers' run directories mounted (tmpfs) until its data
    directory is served again; unmount those of this session so pytest can delete its temporary files."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    for line in Path("/proc/mounts").read_text().splitlines():
        mount_point = line.split()[1].replace("\\040", " ")
        if mount_point.startswith(base) and "/whisklet-" in mount_point:
            subprocess.run(["umount", "-l", mount_point], capture_output=True)


@pytest.fixture
def wsk(whisklet):
    with whisklet.client() as client:
        yield client


def _needs_docker(item) -> bool:
    return "integration" in item.path.parts or "compat" in item.path.parts or item.get_closest_marker("docker")
