"""Triggers over the REST API: CRUD, and firing through active rules (the controller's invoke is faked)."""

from __future__ import annotations

import json

import pytest

from gateway.invoke.controller import Invocation
from gateway.wire.errors import too_many_per_minute

API = "/api/v1/namespaces/_"
TRIGGERS = f"{API}/triggers"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return p }"}


async def put_trigger(client, name, body=None, **params):
    return await client.put(f"{TRIGGERS}/{name}", json=body or {}, params=params)


async def rule(client, name, trigger, action):
    response = await client.put(f"{API}/rules/{name}", json={"trigger": f"/_/{trigger}", "action": f"/_/{action}"})
    assert response.status_code == 200, response.text


async def record(client, activation_id):
    response = await client.get(f"{API}/activations/{activation_id}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def three_rules(client):
    """Trigger `events` (parameter p=trigger) with rules r1..r3 to actions a1..a3."""
    await put_trigger(client, "events", {"parameters": [{"key": "p", "value": "trigger"}, {"key": "q", "value": 1}]})
    for n in (1, 2, 3):
        assert (await client.put(f"{API}/actions/a{n}", json={"exec": CODE})).status_code == 200
        await rule(client, f"r{n}", "events", f"a{n}")


async def test_created_trigger_has_defaults_and_no_rules(client):
    response = await put_trigger(client, "events", {"parameters": [{"key": "x", "value": 1}]})
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("namespace", "name", "version", "publish", "limits")} == {
        "namespace": "guest", "name": "events", "version": "0.0.1", "publish": False, "limits": {},
    }
    assert "rules" not in body
    assert (await client.get(f"{TRIGGERS}/events")).json() == body


async def test_update_replaces_given_fields_and_keeps_rules(client, three_rules):
    body = {"annotations": [{"key": "note", "value": "x"}]}
    updated = (await put_trigger(client, "events", body, overwrite="true")).json()
    assert updated["annotations"] == [{"key": "note", "value": "x"}]
    assert updated["parameters"][0] == {"key": "p", "value": "trigger"}
    assert sorted(updated["rules"]) == ["guest/r1", "guest/r2", "guest/r3"]
    assert updated["rules"]["guest/r1"] == {"action": {"path": "guest", "name": "a1"}, "status": "active"}


async def test_second_create_is_409(client):
    await put_trigger(client, "events")
    response = await put_trigger(client, "events")
    assert (response.status_code, response.json()["error"]) == (409, "resource already exists")


async def test_invalid_feed_name_is_400(client):
    response = await put_trigger(client, "events", {"annotations": [{"key": "feed", "value": "/a/b/c/d"}]})
    assert (response.status_code, response.json()["error"]) == (400, "Feed name is not valid")


async def test_list_has_summaries_and_delete_returns_the_trigger(client, three_rules):
    listed = (await client.get(TRIGGERS)).json()
    assert [set(t) for t in listed] == [{"namespace", "name", "version", "publish", "annotations", "updated"}]
    deleted = await client.delete(f"{TRIGGERS}/events")
    assert deleted.status_code == 200 and deleted.json()["name"] == "events"
    assert (await client.get(f"{TRIGGERS}/events")).status_code == 404
    assert (await client.get(f"{API}/rules/r1")).json()["status"] == "inactive"


async def test_fire_without_active_rule_is_204_with_no_body_and_no_record(client, controller):
    await put_trigger(client, "events")
    response = await client.post(f"{TRIGGERS}/events", json={"x": 1})
    assert (response.status_code, response.content) == (204, b"")
    assert (await client.get(f"{API}/activations")).json() == []
    assert controller.calls == []


async def test_fire_of_a_missing_trigger_is_404(client):
    assert (await client.post(f"{TRIGGERS}/nope", json={})).status_code == 404


async def test_fire_invokes_each_active_rule_non_blocking_and_records_them(client, controller, three_rules):
    controller.outcome = Invocation("a" * 32, None)
    response = await client.post(f"{TRIGGERS}/events", json={"p": "payload"}, headers={"X-Custom": "yes"})
    assert response.status_code == 202
    activation_id = response.json()["activationId"]
    assert response.headers["x-openwhisk-activation-id"] == activation_id
    assert sorted(call["action"].name for call in controller.calls) == ["a1", "a2", "a3"]
    for call in controller.calls:
        assert call["blocking"] is False
        payload = call["payload"]
        assert (payload["p"], payload["q"]) == ("payload", 1)
        assert payload["__ow_headers"]["x-custom"] == "yes"
        assert "authorization" not in payload["__ow_headers"]
    trigger_record = await record(client, activation_id)
    assert trigger_record["name"] == "events"
    assert "end" not in trigger_record and "duration" not in trigger_record
    assert trigger_record["response"]["result"] == {"p": "payload"}
    logs = sorted((json.loads(line) for line in trigger_record["logs"]), key=lambda log: log["rule"])
    assert logs == [
        {"statusCode": 0, "success": True, "activationId": "a" * 32, "rule": f"guest/r{n}", "action": f"guest/a{n}"}
        for n in (1, 2, 3)
    ]
    summary = (await client.get(f"{API}/activations", params={"name": "events"})).json()[0]
    assert "statusCode" not in summary and "end" not in summary


async def test_disabled_rule_is_not_fired(client, controller, three_rules):
    assert (await client.post(f"{API}/rules/r2", json={"status": "inactive"})).status_code == 200
    await client.post(f"{TRIGGERS}/events", json={})
    assert sorted(call["action"].name for call in controller.calls) == ["a1", "a3"]


async def test_rule_whose_action_was_deleted_logs_the_error(client, controller, three_rules):
    await client.delete(f"{API}/actions/a2")
    response = await client.post(f"{TRIGGERS}/events", json={})
    lines = (await record(client, response.json()["activationId"]))["logs"]
    logs = {json.loads(line)["rule"]: json.loads(line) for line in lines}
    assert logs["guest/r2"] == {
        "statusCode": 1, "success": False, "error": "The requested resource does not exist.",
        "rule": "guest/r2", "action": "guest/a2",
    }
    assert logs["guest/r1"]["success"] is True


async def test_throttled_fire_is_429_and_starts_nothing(client, controller, three_rules):
    controller.throttle = too_many_per_minute(61, 60)
    response = await client.post(f"{TRIGGERS}/events", json={})
    assert (response.status_code, response.json()["error"]) == (
        429, "Too many requests in the last minute (count: 61, allowed: 60).",
    )
    assert controller.calls == []


async def test_rule_action_refused_by_the_invoke_throttle_is_logged_as_an_error(client, controller, three_rules, monkeypatch):
    def refuse(identity):
        raise too_many_per_minute(61, 60)

    monkeypatch.setattr(controller, "admit", refuse)
    response = await client.post(f"{TRIGGERS}/events", json={})
    assert response.status_code == 202
    logs = [json.loads(line) for line in (await record(client, response.json()["activationId"]))["logs"]]
    assert {(log["statusCode"], log["success"], log["error"]) for log in logs} == {
        (1, False, "Too many requests in the last minute (count: 61, allowed: 60).")
    }
