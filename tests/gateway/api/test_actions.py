from __future__ import annotations

import base64
import json

import pytest

from gateway.invoke.controller import Invocation
from gateway.invoke.records import Ended
from gateway.store import EntityKind
from gateway.wire.errors import ApiError, too_many_concurrent
from gateway.wire.models import ActivationRecord, ActivationResponse
from pool import ActivationStatus

ACTIONS = "/api/v1/namespaces/_/actions"
HELLO = {"exec": {"kind": "nodejs:default", "code": "function main(p) { return {msg: 'hi'} }"}}
ACTIVATION_ID = "c7bb1339cb4f40e3a6ccead6c99f804e"


async def put(client, name, body=HELLO, **params):
    return await client.put(f"{ACTIONS}/{name}", json=body, params=params)


async def make_package(store, name, binding=None):
    doc = {"namespace": "guest", "name": name, "version": "0.0.1", "publish": False, "binding": binding or {},
           "parameters": [], "annotations": [], "updated": 1}
    await store.put_entity(EntityKind.PACKAGE, "guest", name, json.dumps(doc).encode(), 1, None)


def record(status="success", result=None) -> ActivationRecord:
    return ActivationRecord(
        namespace="guest", name="hello", version="0.0.1", subject="guest", activationId=ACTIVATION_ID,
        start=1000, end=1052, duration=52,
        response=ActivationResponse(status=status, success=status == "success", result=result),
    )


def ended(status: str = "success", result: object = None) -> Ended:
    """The ended activation a blocking invoke hands back, with `record(status, result)` as its record."""
    typed = next(s for s in ActivationStatus if s.text == status)
    return Ended(record(status, result), typed, "nodejs:20", 256, wait_ms=0)


# create, get, update, delete


async def test_create_stores_resolved_kind_defaults_and_server_annotations(client):
    response = await put(client, "hello")
    assert response.status_code == 200
    action = response.json()
    assert action["namespace"] == "guest"
    assert action["name"] == "hello"
    assert action["version"] == "0.0.1"
    assert action["publish"] is False
    assert action["exec"] == {"kind": "nodejs:24", "code": HELLO["exec"]["code"], "binary": False}
    assert action["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert action["annotations"] == [
        {"key": "exec", "value": "nodejs:24"},
        {"key": "provide-api-key", "value": False},
    ]
    assert action["parameters"] == []
    assert (await client.get(f"{ACTIONS}/hello")).json() == action


async def test_base64_code_is_stored_as_binary(client):
    code = base64.b64encode(b"PK\x03\x04 a zip archive").decode()
    response = await put(client, "zipped", {"exec": {"kind": "nodejs:20", "code": code, "main": "handler"}})
    assert response.json()["exec"] == {"kind": "nodejs:20", "code": code, "binary": True, "main": "handler"}


async def test_put_without_overwrite_on_existing_action_is_409(client):
    await put(client, "hello")
    response = await put(client, "hello")
    assert response.status_code == 409
    assert response.json()["error"] == "resource already exists"
    response = await put(client, "hello", overwrite="false")
    assert response.status_code == 409


async def test_update_merges_annotations_replaces_parameters_and_bumps_patch_version(client):
    await put(client, "hello", {
        **HELLO,
        "parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 2}],
        "annotations": [
            {"key": "web-export", "value": True}, {"key": "keep", "value": "x"}, {"key": "drop", "value": 1},
        ],
        "limits": {"timeout": 1000, "memory": 128},
    })
    response = await put(client, "hello", {
        "parameters": [{"key": "c", "value": 3}],
        "annotations": [{"key": "web-export", "value": False}, {"key": "new", "value": "y"}],
        "delAnnotations": ["drop"],
        "limits": {"memory": 512},
    }, overwrite="true")
    assert response.status_code == 200
    action = response.json()
    assert action["version"] == "0.0.2"
    assert action["exec"]["code"] == HELLO["exec"]["code"]
    assert action["parameters"] == [{"key": "c", "value": 3}]
    assert {a["key"]: a["value"] for a in action["annotations"]} == {
        "web-export": False, "keep": "x", "new": "y", "exec": "nodejs:24", "provide-api-key": False,
    }
    assert action["limits"] == {"timeout": 1000, "memory": 512, "logs": 10, "concurrency": 1}


async def test_overwrite_creates_when_absent(client):
    response = await put(client, "fresh", overwrite="true")
    assert response.status_code == 200
    assert response.json()["version"] == "0.0.1"


async def test_get_with_code_false_omits_the_code(client):
    await put(client, "hello")
    response = await client.get(f"{ACTIONS}/hello", params={"code": "false"})
    assert response.json()["exec"] == {"kind": "nodejs:24", "binary": False}


async def test_get_of_missing_action_is_404(client):
    response = await client.get(f"{ACTIONS}/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "The requested resource does not exist.",
                               "code": response.headers["x-request-id"]}


async def test_get_of_a_package_through_actions_is_409_not_in_this_collection(client, store):
    await make_package(store, "demo")
    response = await client.get(f"{ACTIONS}/demo")
    assert response.status_code == 409
    assert response.json()["error"] == "Resource by this name exists but is not in this collection."
    response = await put(client, "demo", overwrite="true")
    assert response.status_code == 409
    assert response.json()["error"] == "Resource by this name exists but is not in this collection."


async def test_delete_returns_the_deleted_action_then_it_is_gone(client):
    created = (await put(client, "hello")).json()
    response = await client.delete(f"{ACTIONS}/hello")
    assert response.status_code == 200
    assert response.json() == created
    assert (await client.get(f"{ACTIONS}/hello")).status_code == 404
    assert (await client.delete(f"{ACTIONS}/hello")).status_code == 404


# validation


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "exec undefined"),
        ({"exec": {"kind": "python:3", "code": "x"}}, 400,
         "The specified runtime 'python:3' is not supported by this platform. "
         "Valid values are: 'nodejs:20', 'nodejs:22', 'nodejs:24'."),
        ({"exec": {"kind": "sequence", "components": ["/guest/a"]}}, 400, "Sequence component does not exist."),
        ({"exec": {"kind": "sequence", "components": []}}, 400, "No component specified for the sequence."),
        ({**HELLO, "limits": {"timeout": 400000}}, 400,
         "duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"),
        ({**HELLO, "limits": {"memory": 1024}}, 400, "memory 1024 MB exceeds allowed threshold of 512 MB"),
        ({**HELLO, "limits": {"logs": 11}}, 400, "log 11 MB exceeds allowed threshold of 10 MB"),
        ({**HELLO, "parameters": [{"key": "big", "value": "x" * 1048576}]}, 413,
         "parameters larger than allowed: 1048581 > 1048576 bytes."),
    ],
)
async def test_invalid_action_put_is_rejected_with_openwhisk_message(client, body, status, message):
    response = await put(client, "bad", body)
    assert (response.status_code, response.json()["error"]) == (status, message)
    assert (await client.get(f"{ACTIONS}/bad")).status_code == 404


async def test_malformed_json_body_is_400_with_the_parser_detail(client):
    response = await client.put(f"{ACTIONS}/bad", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("The request content was malformed:\n")


async def test_non_json_content_type_is_415(client):
    response = await client.put(f"{ACTIONS}/bad", content=json.dumps(HELLO), headers={"content-type": "text/plain"})
    assert response.status_code == 415


async def test_illegal_entity_name_is_400(client):
    response = await put(client, " leading-space")
    assert response.status_code == 400
    assert response.json()["error"] == "The name of the entity contains illegal characters."


async def test_foreign_namespace_is_403_before_404(client):
    response = await client.get("/api/v1/namespaces/other/actions/does-not-exist")
    assert response.status_code == 403
    assert response.json()["error"] == (
        "The supplied authentication is not authorized to access 'other/does-not-exist'."
    )
    assert (await client.get("/api/v1/namespaces/other/actions")).status_code == 403


# packages


async def test_put_into_missing_package_is_404(client):
    response = await put(client, "nopkg/hello")
    assert response.status_code == 404


async def test_action_in_package_has_package_path_as_namespace(client, store):
    await make_package(store, "demo")
    response = await put(client, "demo/hello")
    assert response.status_code == 200
    assert response.json()["namespace"] == "guest/demo"
    assert (await client.get(f"{ACTIONS}/demo/hello")).json()["namespace"] == "guest/demo"
    assert (await client.get(f"{ACTIONS}/hello")).status_code == 404


async def test_put_into_a_binding_is_400(client, store):
    await make_package(store, "bound", binding={"namespace": "whisk.system", "name": "utils"})
    response = await put(client, "bound/hello")
    assert response.status_code == 400
    assert response.json()["error"] == "Operation not permitted on package binding."


# lists


async def test_list_is_newest_first_with_summaries_and_packaged_actions(client, store):
    await make_package(store, "demo")
    for name in ("first", "demo/second", "third"):
        await put(client, name)
    response = await client.get(ACTIONS)
    assert response.status_code == 200
    items = response.json()
    assert [(a["namespace"], a["name"]) for a in items] == [
        ("guest", "third"), ("guest/demo", "second"), ("guest", "first")
    ]
    assert set(items[0]) == {"namespace", "name", "version", "publish", "annotations", "limits", "exec", "updated"}
    assert items[0]["exec"] == {"binary": False}
    assert (await client.get(ACTIONS, params={"limit": 1, "skip": 1})).json()[0]["name"] == "second"
    assert (await client.get(ACTIONS, params={"count": "true"})).json() == {"actions": 3}
    assert (await client.get(f"{ACTIONS}/demo/")).json()[0]["name"] == "second"


async def test_list_limit_above_200_is_400(client):
    response = await client.get(ACTIONS, params={"limit": 201})
    assert response.status_code == 400
    assert response.json()["error"] == "The value '201' is not in the range of 0 to 200 for actions."


# invoke


async def test_non_blocking_invoke_is_202_with_activation_id(client, controller):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, None)
    response = await client.post(f"{ACTIONS}/hello", json={"name": "World"}, headers={"x-request-id": "tid-1"})
    assert response.status_code == 202
    assert response.json() == {"activationId": ACTIVATION_ID}
    assert response.headers["x-openwhisk-activation-id"] == ACTIVATION_ID
    [call] = controller.calls
    assert call["payload"] == {"name": "World"}
    assert call["blocking"] is False
    assert call["wait_ms"] == 60000
    assert call["action"].name == "hello"
    assert call["identity"].namespace == "guest"
    assert call["transaction_id"] == "tid-1"
    assert controller.released == []


async def test_blocking_success_is_200_with_the_record(client, controller):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, ended(result={"msg": "hi"}))
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true", "timeout": "5000"})
    assert response.status_code == 200
    assert response.json()["response"] == {"status": "success", "success": True, "result": {"msg": "hi"}}
    assert response.headers["x-openwhisk-activation-id"] == ACTIVATION_ID
    assert controller.calls[0]["blocking"] is True
    assert controller.calls[0]["wait_ms"] == 5000
    assert controller.calls[0]["payload"] == {}


@pytest.mark.parametrize(
    ("status", "http_status"),
    [("application error", 502), ("action developer error", 502), ("whisk internal error", 500)],
)
async def test_blocking_failure_is_502_or_500_with_the_record(client, controller, status, http_status):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, ended(status, {"error": "boom"}))
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true"})
    assert response.status_code == http_status
    assert response.json()["response"]["status"] == status
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true", "result": "true"})
    assert (response.status_code, response.json()) == (http_status, {"error": "boom"})


async def test_blocking_result_true_returns_only_the_result(client, controller):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, ended(result={"msg": "hi"}))
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true", "result": "true"})
    assert response.json() == {"msg": "hi"}
    assert response.headers["x-openwhisk-activation-id"] == ACTIVATION_ID


async def test_blocking_array_result_is_returned_bare_even_without_result_flag(client, controller):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, ended(result=[1, 2]))
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true"})
    assert (response.status_code, response.json()) == (200, [1, 2])


async def test_blocking_without_result_in_time_is_202(client, controller):
    await put(client, "hello")
    controller.outcome = Invocation(ACTIVATION_ID, None)
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true"})
    assert (response.status_code, response.json()) == (202, {"activationId": ACTIVATION_ID})


async def test_invoke_of_missing_action_is_404_and_releases_the_admission(client, controller):
    response = await client.post(f"{ACTIONS}/nope")
    assert response.status_code == 404
    assert controller.released == controller.admitted != []
    assert controller.calls == []


async def test_throttled_invoke_is_429_before_lookup(client, controller):
    controller.throttle = too_many_concurrent(30, 30)
    response = await client.post(f"{ACTIONS}/nope")
    assert response.status_code == 429
    assert response.json()["error"] == "Too many concurrent requests in flight (count: 30, allowed: 30)."


async def test_invoke_payload_over_limit_is_413_before_lookup(client, controller):
    response = await client.post(f"{ACTIONS}/nope", json={"big": "x" * 1048576})
    assert response.status_code == 413
    assert response.json()["error"] == "Request larger than allowed: 1048586 > 1048576 bytes."
    assert controller.released == controller.admitted != []


@pytest.mark.parametrize("body", [b"[1,2]", b"42", b'"text"'])
async def test_invoke_body_that_is_not_an_object_is_400(client, controller, body):
    await put(client, "hello")
    response = await client.post(f"{ACTIONS}/hello", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "expected a JSON object of parameters" in response.json()["error"]
    assert controller.calls == []
    assert controller.released == controller.admitted


async def test_invoke_with_non_json_body_is_415_but_empty_body_is_accepted(client, controller):
    await put(client, "hello")
    response = await client.post(f"{ACTIONS}/hello", content=b"a=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    response = await client.post(f"{ACTIONS}/hello", content=b"", headers={"content-type": "text/plain"})
    assert response.status_code == 202
    assert controller.calls[0]["payload"] == {}


@pytest.mark.parametrize("timeout", ["0", "60001", "soon", "-5"])
async def test_invoke_timeout_outside_1_to_60000_is_400(client, timeout):
    await put(client, "hello")
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true", "timeout": timeout})
    assert response.status_code == 400
    assert response.json()["error"] == "Timeout must be number of milliseconds up to 60000."


async def test_controller_rejection_reaches_the_caller(client, controller):
    await put(client, "hello")
    controller.outcome = ApiError(400, "Request defines parameters that are not allowed (e.g., reserved properties).")
    response = await client.post(f"{ACTIONS}/hello", json={"x": 1})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Request defines parameters")


async def test_invoke_in_foreign_namespace_is_403_and_admits_nothing(client, controller):
    response = await client.post("/api/v1/namespaces/other/actions/hello")
    assert response.status_code == 403
    assert controller.admitted == []


async def test_other_namespace_sees_only_its_own_actions(client, other_auth):
    await put(client, "hello")
    response = await client.get(ACTIONS, auth=other_auth)
    assert response.json() == []
    assert (await client.get(f"{ACTIONS}/hello", auth=other_auth)).status_code == 404
