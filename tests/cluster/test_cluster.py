"""Three nodes on one PostgreSQL behind haproxy: one API, whichever node answers, and nodes may die."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter

from bench.cluster import Cluster
from bench.serving import WHISKLET, sandbox_names, wait_until
from tests.cluster.cluster import every_node_counts_the_others, namespace_key, poll
from tests.integration.actions import NS, activation, invoke, put_action, unique
from tests.integration.events import put, put_rule
from tests.integration.test_alarms import feed

ECHO = "function main(p) { return {greeting: 'hello ' + p.name}; }"
SLEEPER = "function main() { return new Promise(r => setTimeout(() => r({slept: true}), 1500)); }"
NOOP = "function main() { return {}; }"


def test_an_action_created_through_one_node_is_invoked_through_every_other_and_the_balancer(cluster: Cluster):
    name = unique("echo")
    with cluster.client("n1") as n1:
        put_action(n1, name, ECHO)
    for node in ("n2", "n3", None):
        with cluster.client(node) as wsk:
            answered = invoke(wsk, name, {"name": node or "balancer"}, result=True)
            assert answered.status_code == 200, answered.text
            assert answered.json() == {"greeting": f"hello {node or 'balancer'}"}
    with cluster.client("n3") as n3:
        listed = n3.get(f"{NS}/activations", params={"name": name}).json()
    assert len(listed) == 3


def test_a_namespaces_per_minute_throttle_holds_across_nodes_within_the_documented_precision(cluster: Cluster):
    limit, nodes = 9, 3
    auth = namespace_key(cluster, unique("throttled"), "--invocations-per-minute", str(limit))
    every_node_counts_the_others(cluster)
    with cluster.client(auth=auth) as wsk:
        put_action(wsk, "noop", NOOP)
        first_minute = time.time() // 60
        # one connection per request: see tests/security/test_cluster.py's ONE_SHOT
        codes = [wsk.post(f"{NS}/actions/noop", json={}, headers={"Connection": "close"}).status_code for _ in range(10 * nodes)]
        minutes = int(time.time() // 60 - first_minute) + 1
    assert set(codes) <= {202, 429}
    admitted = codes.count(202)
    assert admitted <= (limit + nodes - 1) * minutes  # README "Cluster": at most limit + nodes - 1 a minute
    if minutes == 1:  # round robin gives each node a third: each admits its share, ceil(9 / 3)
        assert admitted == limit


def test_an_every_second_alarm_fires_once_per_tick_while_nodes_come_and_go(cluster: Cluster):
    # exactly once, not throttles: each node's share of 60 fires a minute would be 20, and the node that
    # wins most claims would leave ticks for the others to pick up (README "Cluster")
    subprocess.run(
        [str(WHISKLET), "namespace", "limits", "guest", "--store", cluster.dsn, "--fires-per-minute", "600",
         "--invocations-per-minute", "600"],
        check=True, capture_output=True,
    )
    trigger, action = unique("tick"), unique("ticked")
    with cluster.client() as wsk:
        put(wsk, "triggers", trigger, {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]})
        put_action(wsk, action, NOOP)
        put_rule(wsk, unique("rule"), trigger, action)
        created = feed(wsk, "alarm", "CREATE", trigger, cluster.auth, cron="* * * * * *")
        assert created.status_code == 200, created.text
    began = time.time()
    cluster.nodes["n2"].stop()  # a node leaves gracefully ...
    cluster.nodes["n3"].kill()  # ... another dies
    coming_back = [threading.Thread(target=cluster.start, args=(n,)) for n in ("n2", "n3")]
    for thread in coming_back:
        thread.start()
    for thread in coming_back:
        thread.join()
    while time.time() - began < 15:  # the alarm runs on while the nodes that stayed fire it
        time.sleep(1)
    cluster.nodes["n1"].kill()  # the node the alarm was created through dies too, and comes back
    cluster.start("n1")
    with cluster.client() as wsk:
        while time.time() - began < 30:  # bounded: about 30 ticks in all
            time.sleep(1)
        assert feed(wsk, "alarm", "DELETE", trigger, cluster.auth).status_code == 200
        fires = wsk.get(f"{NS}/activations", params={"name": trigger, "limit": 200}).json()
    assert wait_until(cluster.balancer_sees_every_node, timeout_s=30)
    per_tick = Counter(fire["start"] // 1000 for fire in fires)
    assert per_tick and max(per_tick.values()) == 1, f"ticks fired more than once: {sorted(per_tick.items())}"
    ticks = max(per_tick) - min(per_tick) + 1
    departures = 3  # README "Cluster": a tick claimed by a node that dies before firing it is lost, never repeated
    assert ticks >= 25 and len(per_tick) >= ticks - departures, f"{len(per_tick)} of {ticks} ticks fired"


def test_a_node_killed_under_load_leaves_every_accepted_activation_with_one_record(cluster: Cluster):
    auth = namespace_key(
        cluster, unique("loaded"), "--invocations-per-minute", "6000", "--concurrent-invocations", "100"
    )
    victim = cluster.nodes["n3"]
    before = set(sandbox_names(victim.data_dir))
    accepted: list[str] = []
    half_sent = threading.Event()
    with cluster.client(auth=auth) as wsk:
        put_action(wsk, "sleeper", SLEEPER)

        def load() -> None:  # bounded: 40 requests, about 5 a second
            for sent in range(40):
                response = wsk.post(f"{NS}/actions/sleeper", json={})
                if response.status_code == 202:
                    accepted.append(response.json()["activationId"])
                if sent == 15:
                    half_sent.set()
                time.sleep(0.2)

        loader = threading.Thread(target=load)
        loader.start()
        assert half_sent.wait(60)
        victim.kill()  # SIGKILL: activations running on n3 never end there
        loader.join()
        assert len(accepted) >= 30
        records = [activation(wsk, aid, timeout_s=60) for aid in accepted]

        def listed_everywhere() -> list[dict]:  # a record reaches the other nodes with its batch's flush
            page = wsk.get(f"{NS}/activations", params={"name": "sleeper", "limit": 200}).json()
            return page if set(accepted) <= {a["activationId"] for a in page} else []

        listed = poll(listed_everywhere, timeout_s=10)
    statuses = Counter(r["response"]["status"] for r in records)
    assert set(statuses) <= {"success", "whisk internal error"}, statuses
    ids = Counter(r["activationId"] for r in listed)
    assert set(accepted) <= set(ids) and max(ids.values()) == 1
    assert statuses["whisk internal error"] >= 1  # n3's, taken over by a survivor: n3 is not back yet
    cluster.start("n3")  # the same id and data directory: nothing recorded twice, its old sandboxes gone
    assert not before & set(sandbox_names(victim.data_dir))
    with cluster.client(auth=auth) as wsk:
        again = Counter(a["activationId"] for a in wsk.get(f"{NS}/activations", params={"limit": 200}).json())
    assert again == ids
