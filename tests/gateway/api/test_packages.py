"""Packages and bindings over the REST API: CRUD, sharing across namespaces, actions inside and through them."""

from __future__ import annotations

import pytest

from gateway.invoke.controller import merge_arguments
from gateway.wire.errors import ApiError

API = "/api/v1/namespaces"
PACKAGES = f"{API}/_/packages"
ACTIONS = f"{API}/_/actions"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return p }"}


async def put_package(client, name, body=None, auth=None, **params):
    kwargs = {"auth": auth} if auth else {}
    return await client.put(f"{PACKAGES}/{name}", json=body or {}, params=params, **kwargs)


async def put_action(client, path, body=None, auth=None):
    kwargs = {"auth": auth} if auth else {}
    response = await client.put(f"{ACTIONS}/{path}", json=body or {"exec": CODE}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def shared(client, other_auth):
    """`other` publishes `tools` (parameters a=1, b=1; actions `echo` with c=1 and feed `feed`) and keeps
    `private` to itself."""
    body = {"publish": True, "parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 1}]}
    assert (await put_package(client, "tools", body, auth=other_auth)).status_code == 200
    assert (await put_package(client, "private", auth=other_auth)).status_code == 200
    await put_action(client, "tools/echo", {"exec": CODE, "parameters": [{"key": "c", "value": 1}]}, auth=other_auth)
    await put_action(client, "tools/feed", {"exec": CODE, "annotations": [{"key": "feed", "value": True}]}, auth=other_auth)
    await put_action(client, "private/secret", auth=other_auth)


async def test_created_package_is_returned_with_defaults(client):
    response = await put_package(client, "demo", {"parameters": [{"key": "x", "value": 1}]})
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("namespace", "name", "version", "publish", "binding")} == {
        "namespace": "guest", "name": "demo", "version": "0.0.1", "publish": False, "binding": {},
    }
    assert body["parameters"] == [{"key": "x", "value": 1}]


async def test_get_lists_actions_and_feeds_apart(client, shared, other_auth):
    body = (await client.get(f"{API}/other/packages/tools", auth=other_auth)).json()
    assert [a["name"] for a in body["actions"]] == ["echo"]
    assert [a["name"] for a in body["feeds"]] == ["feed"]
    assert set(body["actions"][0]) == {"name", "version", "annotations"}


async def test_package_named_default_is_reserved(client):
    response = await put_package(client, "default")
    assert (response.status_code, response.json()["error"]) == (400, "Package name 'default' is reserved.")


async def test_second_create_is_409_and_update_replaces_fields_and_bumps_the_version(client):
    await put_package(client, "demo", {"parameters": [{"key": "x", "value": 1}], "annotations": [{"key": "k", "value": 1}]})
    again = await put_package(client, "demo")
    assert (again.status_code, again.json()["error"]) == (409, "resource already exists")
    updated = (await put_package(client, "demo", {"annotations": [{"key": "j", "value": 2}]}, overwrite="true")).json()
    assert updated["version"] == "0.0.2"
    assert updated["annotations"] == [{"key": "j", "value": 2}]
    assert updated["parameters"] == [{"key": "x", "value": 1}]


async def test_binding_merges_parameters_and_shows_the_bound_packages_actions(client, shared):
    body = {"binding": {"namespace": "other", "name": "tools"}, "parameters": [{"key": "b", "value": 2}]}
    created = (await put_package(client, "mytools", body)).json()
    assert created["binding"] == {"namespace": "other", "name": "tools"}
    assert {"key": "binding", "value": {"namespace": "other", "name": "tools"}} in created["annotations"]
    got = (await client.get(f"{PACKAGES}/mytools")).json()
    assert got["namespace"] == "guest" and got["name"] == "mytools"
    assert got["parameters"] == [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert [a["name"] for a in got["actions"]] == ["echo"]


@pytest.mark.parametrize(
    ("binding", "status", "message"),
    [
        ({"namespace": "other", "name": "missing"}, 400, "Binding references a package that does not exist."),
        ({"namespace": "_", "name": "mytools"}, 400, "Cannot bind to another package binding."),
        ({"namespace": "other", "name": "private"}, 403,
         "The supplied authentication is not authorized to access 'other/private'."),
    ],
)
async def test_invalid_binding_is_rejected(client, shared, binding, status, message):
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"}})
    response = await put_package(client, "bad", {"binding": binding})
    assert (response.status_code, response.json()["error"]) == (status, message)


async def test_package_cannot_become_a_binding(client, shared):
    await put_package(client, "demo")
    response = await put_package(client, "demo", {"binding": {"namespace": "other", "name": "tools"}}, overwrite="true")
    assert (response.status_code, response.json()["error"]) == (
        409, "Resource is a package and cannot be converted into a binding.",
    )


async def test_foreign_list_shows_only_published_packages_and_own_list_shows_bindings(client, shared):
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"}})
    foreign = (await client.get(f"{API}/other/packages")).json()
    assert [p["name"] for p in foreign] == ["tools"]
    assert foreign[0]["binding"] is False
    own = (await client.get(PACKAGES)).json()
    assert own[0]["binding"] == {"namespace": "other", "name": "tools"}
    assert (await client.get(PACKAGES, params={"count": "true"})).json() == {"packages": 1}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/packages/private"),
        ("GET", "/packages/missing"),
        ("PUT", "/packages/tools"),
        ("DELETE", "/packages/tools"),
        ("GET", "/actions/private/secret"),
        ("POST", "/actions/private/secret"),
        ("GET", "/actions/private/"),
        ("PUT", "/actions/tools/echo"),
    ],
)
async def test_foreign_unpublished_or_write_access_is_403(client, shared, method, path):
    response = await client.request(method, f"{API}/other{path}", json={})
    assert response.status_code == 403
    assert response.json()["error"].startswith("The supplied authentication is not authorized to access 'other/")


async def test_published_package_and_its_actions_are_readable_from_another_namespace(client, shared):
    assert (await client.get(f"{API}/other/packages/tools")).status_code == 200
    action = (await client.get(f"{API}/other/actions/tools/echo")).json()
    assert action["namespace"] == "other/tools"
    assert action["parameters"] == [{"key": "a", "value": 1}, {"key": "b", "value": 1}, {"key": "c", "value": 1}]
    listed = (await client.get(f"{API}/other/actions/tools/")).json()
    assert sorted(a["name"] for a in listed) == ["echo", "feed"]
    missing = await client.get(f"{API}/other/actions/tools/nope")
    assert missing.status_code == 404


async def test_invoke_through_a_binding_merges_parameters_and_names_the_binding(client, controller, shared):
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"},
                                          "parameters": [{"key": "b", "value": 2}]})
    response = await client.post(f"{ACTIONS}/mytools/echo", json={"d": 4})
    assert response.status_code == 202
    call = controller.calls[0]
    assert call["binding"] == "guest/mytools"
    assert call["action"].namespace == "other/tools"
    assert {p.key: p.value for p in call["action"].parameters} == {"a": 1, "b": 2, "c": 1}
    assert call["payload"] == {"d": 4}
    got = (await client.get(f"{ACTIONS}/mytools/echo")).json()
    assert got["namespace"] == "other/tools"
    assert [p["value"] for p in got["parameters"]] == [1, 2, 1]
    assert sorted(a["name"] for a in (await client.get(f"{ACTIONS}/mytools/")).json()) == ["echo", "feed"]


async def test_final_action_refuses_overriding_a_binding_parameter(client, controller, shared, other_auth):
    body = {"exec": CODE, "annotations": [{"key": "final", "value": True}]}
    await client.put(f"{API}/other/actions/tools/echo", json=body, params={"overwrite": "true"}, auth=other_auth)
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"},
                                          "parameters": [{"key": "b", "value": 2}]})
    await client.post(f"{ACTIONS}/mytools/echo", json={})
    action = controller.calls[0]["action"]
    with pytest.raises(ApiError) as refused:
        merge_arguments(action, {"b": 3})
    assert refused.value.status == 400
    assert merge_arguments(action, {"z": 3})["b"] == 2


async def test_actions_cannot_be_written_or_deleted_through_a_binding(client, shared):
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"}})
    for response in (
        await client.put(f"{ACTIONS}/mytools/new", json={"exec": CODE}),
        await client.delete(f"{ACTIONS}/mytools/echo"),
    ):
        assert (response.status_code, response.json()["error"]) == (400, "Operation not permitted on package binding.")


async def test_non_empty_package_is_deleted_only_with_force(client):
    await put_package(client, "demo")
    await put_action(client, "demo/a")
    await put_action(client, "demo/b")
    refused = await client.delete(f"{PACKAGES}/demo")
    assert (refused.status_code, refused.json()["error"]) == (
        409, "Package not empty (contains 2 entities). Set force param or delete package contents.",
    )
    deleted = await client.delete(f"{PACKAGES}/demo", params={"force": "true"})
    assert deleted.status_code == 200 and deleted.json()["name"] == "demo"
    assert (await client.get(f"{ACTIONS}/demo/a")).status_code == 404
    assert (await client.get(f"{PACKAGES}/demo")).status_code == 404


async def test_binding_is_deletable_and_leaves_the_bound_package(client, shared):
    await put_package(client, "mytools", {"binding": {"namespace": "other", "name": "tools"}})
    assert (await client.delete(f"{PACKAGES}/mytools")).status_code == 200
    assert (await client.get(f"{API}/other/packages/tools")).status_code == 200
