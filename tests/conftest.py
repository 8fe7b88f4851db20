import os

import pytest

from tests.serving import ServedWhisklet, docker_available


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


@pytest.fixture
def wsk(whisklet):
    with whisklet.client() as client:
        yield client


def _needs_docker(item) -> bool:
    return "integration" in item.path.parts or "compat" in item.path.parts or item.get_closest_marker("docker")
