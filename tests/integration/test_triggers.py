"""Triggers and rules end to end: fires start the rules' actions in real containers."""

import json

from tests.integration.actions import NS, activation, put_action, unique
from tests.integration.events import fire, put, put_rule, records_of

ECHO = "function main(params) { return params; }"


def test_a_trigger_with_three_rules_fires_three_actions_and_its_record_names_them(wsk):
    trigger = unique("events")
    put(wsk, "triggers", trigger, {"parameters": [{"key": "source", "value": "trigger"}, {"key": "kept", "value": 1}]})
    actions = [unique(f"a{n}") for n in range(3)]
    rules = [unique(f"r{n}") for n in range(3)]
    for action, rule in zip(actions, rules, strict=True):
        put_action(wsk, action, ECHO)
        put_rule(wsk, rule, trigger, action)

    response = fire(wsk, trigger, {"source": "payload"}, **{"X-Fired-By": "test"})
    assert response.status_code == 202
    trigger_record = activation(wsk, response.json()["activationId"])
    assert trigger_record["name"] == trigger
    assert trigger_record["response"]["result"] == {"source": "payload"}
    assert "end" not in trigger_record and "duration" not in trigger_record
    logs = [json.loads(line) for line in trigger_record["logs"]]
    assert sorted(log["rule"] for log in logs) == sorted(f"guest/{rule}" for rule in rules)
    assert sorted(log["action"] for log in logs) == sorted(f"guest/{action}" for action in actions)
    assert all(log["success"] and log["statusCode"] == 0 for log in logs)

    for log in logs:
        record = activation(wsk, log["activationId"])
        assert record["name"] == log["action"].split("/")[1]
        assert record["response"]["status"] == "success"
        result = record["response"]["result"]
        assert (result["source"], result["kept"]) == ("payload", 1)
        assert result["__ow_headers"]["x-fired-by"] == "test"
        assert "cause" not in record


def test_disabling_a_rule_stops_its_action_and_enabling_brings_it_back(wsk):
    trigger, action, rule = unique("events"), unique("act"), unique("rule")
    put(wsk, "triggers", trigger)
    put_action(wsk, action, ECHO)
    put_rule(wsk, rule, trigger, action)
    assert wsk.post(f"{NS}/rules/{rule}", json={"status": "inactive"}).text == "OK"
    assert wsk.get(f"{NS}/rules/{rule}").json()["status"] == "inactive"

    response = fire(wsk, trigger, {"n": 1})
    assert (response.status_code, response.content) == (204, b"")
    assert wsk.post(f"{NS}/rules/{rule}", json={"status": "active"}).status_code == 200
    fired = fire(wsk, trigger, {"n": 2})
    assert fired.status_code == 202
    log = json.loads(activation(wsk, fired.json()["activationId"])["logs"][0])
    assert activation(wsk, log["activationId"])["response"]["result"]["n"] == 2
    assert [r["response"]["result"]["n"] for r in records_of(wsk, action)] == [2]


def test_a_rule_whose_action_was_deleted_is_logged_as_an_error_on_fire(wsk):
    trigger, action, rule = unique("events"), unique("act"), unique("rule")
    put(wsk, "triggers", trigger)
    put_action(wsk, action, ECHO)
    put_rule(wsk, rule, trigger, action)
    assert wsk.delete(f"{NS}/actions/{action}").status_code == 200
    response = fire(wsk, trigger)
    assert response.status_code == 202
    log = json.loads(activation(wsk, response.json()["activationId"])["logs"][0])
    assert log == {"statusCode": 1, "success": False, "error": "The requested resource does not exist.",
                   "rule": f"guest/{rule}", "action": f"guest/{action}"}
