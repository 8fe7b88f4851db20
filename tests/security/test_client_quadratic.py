"""Merging what a PUT sends is linear: an update with 40,000 annotations costs what creating it costs,
and `/ping` is answered meanwhile (the merge ran on the event loop in O(n^2): 20 s, `/ping` blocked)."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.integration.actions import NS, unique
from tests.security.client_hostile import timed

pytestmark = pytest.mark.docker

COUNT = 40_000
RATIO = 10  # an update also decodes the stored action: 2-3x a create here; the quadratic merge was ~400x


def body(count: int) -> dict:
    return {
        "exec": {"kind": "nodejs:20", "code": "function main(p) { return p; }"},
        "annotations": [{"key": f"a{index:05d}", "value": 1} for index in range(count)],
        "parameters": [{"key": f"p{index:05d}", "value": 1} for index in range(count)],
    }


def test_an_update_with_40000_annotations_costs_about_what_creating_them_costs_and_ping_answers(whisklet, wsk):
    name = unique("many")
    put = body(COUNT)
    create_s, created = timed(lambda: wsk.put(f"{NS}/actions/{name}", json=put))
    assert created.status_code == 200, created.text[:300]

    outcome: dict[str, float | int] = {}
    started = threading.Event()

    def update() -> None:
        started.set()
        outcome["update_s"], response = timed(lambda: wsk.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json=put))
        outcome["status"] = response.status_code

    updating = threading.Thread(target=update)
    updating.start()
    started.wait(10)
    with httpx.Client(base_url=whisklet.url, timeout=120) as pinger:
        ping_s, pong = timed(lambda: pinger.get("/ping"))
    updating.join(120)
    assert outcome["status"] == 200
    assert pong.status_code == 200
    assert outcome["update_s"] < RATIO * create_s, (outcome, create_s)
    assert ping_s < RATIO * create_s, (ping_s, create_s)
    stored = wsk.get(f"{NS}/actions/{name}").json()
    assert len(stored["annotations"]) == COUNT + 2  # with `exec` and `provide-api-key`
    assert stored["version"] == "0.0.2"


def test_too_many_annotations_are_a_413_before_any_merge(wsk):
    name = unique("many")
    assert wsk.put(f"{NS}/actions/{name}", json=body(10)).status_code == 200
    huge = body(0) | {"annotations": [{"key": f"a{index:06d}", "value": "x" * 20} for index in range(60_000)]}
    response = wsk.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json=huge)
    assert response.status_code == 413
    assert response.json()["error"].startswith("annotations larger than allowed: ")
