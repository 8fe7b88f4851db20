"""Hostile clients of a cluster: they cannot choose or spoof the node that owns their activations, nor
exceed a namespace's throttle by spreading requests over the nodes themselves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest

from bench.cluster import Cluster
from tests.cluster.cluster import every_node_counts_the_others, namespace_key, running_cluster
from tests.integration.actions import NS, put_action, unique

SLEEPER = "function main() { return new Promise(r => setTimeout(() => r({slept: true}), 3000)); }"
SPOOFED = {
    "X-Whisklet-Node-Id": "n2", "X-Whisklet-Node": "n2", "X-Node-Id": "n2", "Node-Id": "n2",
    "X-Forwarded-Host": "n2", "Forwarded": "for=n2;host=n2", "X-Forwarded-For": "127.0.0.2",
}


# A 429 may be answered before the request's body arrives; the gateway's edge then closes the connection
# after the answer without a `connection: close` header, and a client reusing it sees "Server disconnected"
# (noticed here; gateway/edge/http.py's BoundedHttp 3). One connection per request keeps this test on throttles.
ONE_SHOT = {**SPOOFED, "Connection": "close"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("hostile-cluster")) as started:
        yield started


async def journal_owner(dsn: str, activation_id: str) -> str | None:
    db = await asyncpg.connect(dsn)
    try:
        return await db.fetchval("SELECT node FROM accepted WHERE activation_id = $1", activation_id)
    finally:
        await db.close()


def test_a_client_cannot_pick_or_spoof_the_node_that_owns_its_activation(cluster: Cluster):
    with cluster.client("n1") as wsk:
        put_action(wsk, "sleeper", SLEEPER)
        accepted = wsk.post(f"{NS}/actions/sleeper", json={}, headers=SPOOFED)
        assert accepted.status_code == 202, accepted.text
    # journalled before the 202, and running for 3 s: its owner is the node that accepted it
    assert asyncio.run(journal_owner(cluster.dsn, accepted.json()["activationId"])) == "n1"


def test_a_namespace_cannot_exceed_its_throttle_by_sending_to_every_node_itself(cluster: Cluster):
    limit, nodes = 9, len(cluster.nodes)
    auth = namespace_key(cluster, unique("spreader"), "--invocations-per-minute", str(limit))
    every_node_counts_the_others(cluster)
    codes: list[int] = []
    first_minute = time.time() // 60
    for node in cluster.nodes:  # every node in turn, each as hard as it takes
        with cluster.client(node, auth=auth) as wsk:
            if node == "n1":
                put_action(wsk, "noop", "function main() { return {}; }")
            codes += [wsk.post(f"{NS}/actions/noop", json={}, headers=ONE_SHOT).status_code for _ in range(limit + 3)]
    minutes = int(time.time() // 60 - first_minute) + 1
    assert set(codes) <= {202, 429}
    assert codes.count(202) <= (limit + nodes - 1) * minutes  # README "Cluster": the documented precision
