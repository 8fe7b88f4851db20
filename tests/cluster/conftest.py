"""The cluster suite's one cluster per module (tests/cluster/cluster.py): starting 3 nodes costs seconds."""

from collections.abc import Iterator

import pytest

from bench.cluster import Cluster
from tests.cluster.cluster import running_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started
