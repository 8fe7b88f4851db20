"""Rules over the REST API: create, status kept in the trigger, enable/disable, update, delete."""

from __future__ import annotations

import pytest

API = "/api/v1/namespaces"
RULES = f"{API}/_/rules"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return p }"}


@pytest.fixture
async def entities(client):
    """Triggers `t1`, `t2` and actions `a1`, `a2` in `guest`."""
    for name in ("t1", "t2"):
        assert (await client.put(f"{API}/_/triggers/{name}", json={})).status_code == 200
    for name in ("a1", "a2"):
        assert (await client.put(f"{API}/_/actions/{name}", json={"exec": CODE})).status_code == 200


async def put_rule(client, name, trigger="/_/t1", action="/_/a1", **params):
    body = {"name": name, "status": "", "trigger": trigger, "action": action}
    return await client.put(f"{RULES}/{name}", json=body, params=params)


async def trigger_rules(client, trigger):
    return (await client.get(f"{API}/_/triggers/{trigger}")).json().get("rules", {})


async def test_created_rule_is_active_and_linked_in_its_trigger(client, entities):
    response = await put_rule(client, "r")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("namespace", "name", "version", "status", "trigger", "action")} == {
        "namespace": "guest", "name": "r", "version": "0.0.1", "status": "active",
        "trigger": {"path": "guest", "name": "t1"}, "action": {"path": "guest", "name": "a1"},
    }
    assert await trigger_rules(client, "t1") == {"guest/r": {"action": {"path": "guest", "name": "a1"}, "status": "active"}}
    assert (await client.get(f"{RULES}/r")).json()["status"] == "active"


async def test_references_may_be_path_objects(client, entities):
    response = await put_rule(client, "r", {"path": "guest", "name": "t1"}, {"path": "_", "name": "a1"})
    assert response.status_code == 200
    assert response.json()["action"] == {"path": "guest", "name": "a1"}


@pytest.mark.parametrize(
    ("trigger", "action", "message"),
    [
        ("/_/nope", "/_/a1", "trigger /guest/nope does not exist"),
        ("/_/t1", "/_/nope", "action /guest/nope does not exist"),
        ("/_/t1", None, "rule requires a valid trigger and a valid action"),
        ("", "/_/a1", "rule requires a valid trigger and a valid action"),
    ],
)
async def test_rule_with_missing_references_is_400(client, entities, trigger, action, message):
    response = await put_rule(client, "r", trigger, action)
    assert (response.status_code, response.json()["error"]) == (400, message)
    assert (await client.get(f"{RULES}/r")).status_code == 404


async def test_rule_to_a_foreign_unpublished_action_is_403(client, entities, other_auth):
    await client.put(f"{API}/_/packages/private", json={}, auth=other_auth)
    await client.put(f"{API}/_/actions/private/x", json={"exec": CODE}, auth=other_auth)
    response = await put_rule(client, "r", action="/other/private/x")
    assert (response.status_code, response.json()["error"]) == (
        403, "The supplied authentication is not authorized to access 'other/private/x'.",
    )


async def test_list_omits_status(client, entities):
    await put_rule(client, "r")
    listed = (await client.get(RULES)).json()
    assert [r["name"] for r in listed] == ["r"]
    assert "status" not in listed[0]
    assert (await client.get(RULES, params={"count": "true"})).json() == {"rules": 1}


async def test_disable_and_enable_answer_ok_and_change_the_status(client, entities):
    await put_rule(client, "r")
    for status in ("inactive", "inactive", "active"):
        response = await client.post(f"{RULES}/r", json={"status": status, "trigger": None, "action": None})
        assert (response.status_code, response.text) == (200, "OK")
        assert (await client.get(f"{RULES}/r")).json()["status"] == status
        assert (await trigger_rules(client, "t1"))["guest/r"]["status"] == status


async def test_other_status_values_are_400(client, entities):
    await put_rule(client, "r")
    response = await client.post(f"{RULES}/r", json={"status": "paused"})
    assert response.status_code == 400
    assert "status must be 'active' or 'inactive'" in response.json()["error"]


async def test_update_keeps_the_status_and_moves_the_link_to_the_new_trigger(client, entities):
    await put_rule(client, "r")
    await client.post(f"{RULES}/r", json={"status": "inactive"})
    response = await put_rule(client, "r", "/_/t2", "/_/a2", overwrite="true")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("inactive", "0.0.2")
    assert await trigger_rules(client, "t1") == {}
    assert await trigger_rules(client, "t2") == {"guest/r": {"action": {"path": "guest", "name": "a2"}, "status": "inactive"}}
    again = await put_rule(client, "r", "/_/t2", "/_/a2")
    assert (again.status_code, again.json()["error"]) == (409, "resource already exists")


async def test_delete_unlinks_and_returns_the_rule_inactive(client, entities):
    await put_rule(client, "r")
    response = await client.delete(f"{RULES}/r")
    assert (response.status_code, response.json()["status"]) == (200, "inactive")
    assert await trigger_rules(client, "t1") == {}
    assert (await client.get(f"{RULES}/r")).status_code == 404


async def test_rule_whose_trigger_is_gone_reads_inactive_and_cannot_be_enabled(client, entities):
    await put_rule(client, "r")
    await client.delete(f"{API}/_/triggers/t1")
    assert (await client.get(f"{RULES}/r")).json()["status"] == "inactive"
    response = await client.post(f"{RULES}/r", json={"status": "active"})
    assert (response.status_code, response.json()["error"]) == (404, "Only rules with existing triggers can be activated")
    assert (await client.delete(f"{RULES}/r")).status_code == 200


async def test_rules_of_another_namespace_are_403(client, entities, other_auth):
    response = await client.get(f"{API}/other/rules/r")
    assert response.status_code == 403
