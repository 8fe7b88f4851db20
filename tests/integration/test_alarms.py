"""Alarm feeds end to end: the calls `wsk trigger create --feed /whisk.system/alarms/...` makes, and fires."""

import subprocess
import time

import pytest

from bench.serving import ServedWhisklet, sandbox_names
from tests.integration.actions import NS, put_action, unique
from tests.integration.events import put, put_rule, records_of

FEED = "/api/v1/namespaces/whisk.system/actions/alarms"
ECHO = "function main(params) { return params; }"


def feed(wsk, name, event, trigger, auth, **params):
    """The feed invocation wsk sends: blocking, with lifecycleEvent, triggerName and authKey."""
    body = {"lifecycleEvent": event, "triggerName": f"/_/{trigger}", "authKey": ":".join(auth), **params}
    return wsk.post(f"{FEED}/{name}", params={"blocking": "true", "result": "false"}, json=body)


def alarm_with_rule(wsk, auth, **params):
    """A trigger with an every-second alarm and a rule to an echo action; returns (trigger, action)."""
    trigger, action = unique("tick"), unique("ticked")
    put(wsk, "triggers", trigger, {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]})
    put_action(wsk, action, ECHO)
    put_rule(wsk, unique("rule"), trigger, action)
    created = feed(wsk, "alarm", "CREATE", trigger, auth, cron="* * * * * *", **params)
    assert created.status_code == 200, created.text
    return trigger, action


def test_an_every_second_alarm_fires_its_trigger_and_the_rule_runs_the_action(wsk, whisklet):
    trigger, action = alarm_with_rule(wsk, whisklet.auth, trigger_payload={"from": "alarm"})
    records = records_of(wsk, action, at_least=2, timeout_s=20)
    assert len(records) >= 2
    assert all(r["response"]["result"]["from"] == "alarm" for r in records)
    fires = wsk.get(f"{NS}/activations", params={"name": trigger}).json()
    assert len(fires) >= 2

    read = feed(wsk, "alarm", "READ", trigger, whisklet.auth).json()["response"]["result"]
    assert read["config"]["cron"] == "* * * * * *"
    assert read["status"]["active"] is True
    assert feed(wsk, "alarm", "DELETE", trigger, whisklet.auth).status_code == 200
    assert wsk.delete(f"{NS}/triggers/{trigger}").status_code == 200
    gone = feed(wsk, "alarm", "READ", trigger, whisklet.auth)
    assert gone.status_code == 502
    assert "could not find trigger" in gone.json()["response"]["result"]["error"]


def test_an_invalid_cron_makes_the_feed_invocation_fail_as_wsk_expects(wsk, whisklet):
    trigger = unique("tick")
    put(wsk, "triggers", trigger)
    response = feed(wsk, "alarm", "CREATE", trigger, whisklet.auth, cron="every minute")
    assert response.status_code == 502
    assert response.json()["response"]["result"] == {"error": "cron pattern 'every minute' is not valid"}


@pytest.fixture
def own_whisklet(tmp_path):
    served = ServedWhisklet(tmp_path / "data", env={"WHISKLET_POOL_MIN_PREWARM": "1"})
    yield served
    served.kill()
    for name in sandbox_names(tmp_path / "data"):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_an_alarm_keeps_firing_after_a_restart(own_whisklet):
    own_whisklet.start()
    with own_whisklet.client() as wsk:
        _, action = alarm_with_rule(wsk, own_whisklet.auth)
        assert records_of(wsk, action, at_least=1, timeout_s=20)
    assert own_whisklet.stop() == 0
    restarted_ms = time.time_ns() // 1_000_000
    own_whisklet.start()
    with own_whisklet.client() as wsk:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            after = [r for r in records_of(wsk, action) if r["start"] > restarted_ms]
            if after:
                break
            time.sleep(0.5)
        assert after, "no rule activation after the restart"
    assert own_whisklet.stop() == 0
