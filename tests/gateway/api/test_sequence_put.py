"""Creating sequence actions over the REST API: components qualified and checked."""

from __future__ import annotations

import pytest

API = "/api/v1/namespaces"
ACTIONS = f"{API}/_/actions"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return p }"}


def seq(*components):
    return {"exec": {"kind": "sequence", "components": list(components)}}


async def put(client, name, body, **params):
    return await client.put(f"{ACTIONS}/{name}", json=body, params=params)


@pytest.fixture
async def atoms(client):
    for name in ("a", "b"):
        assert (await put(client, name, {"exec": CODE})).status_code == 200


async def test_sequence_is_stored_with_qualified_components_as_its_actions_parameter(client, atoms):
    response = await put(client, "s", {**seq("/_/a", "b"), "parameters": [{"key": "x", "value": 1}]})
    assert response.status_code == 200
    body = response.json()
    assert body["exec"] == {"kind": "sequence", "components": ["/guest/a", "/guest/b"]}
    assert body["parameters"] == [{"key": "_actions", "value": ["/guest/a", "/guest/b"]}]
    assert {"key": "exec", "value": "sequence"} in body["annotations"]
    listed = (await client.get(ACTIONS)).json()
    assert next(a for a in listed if a["name"] == "s")["exec"] == {"binary": False}


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ((), "No component specified for the sequence."),
        (("/_/a", "/_/missing"), "Sequence component does not exist."),
        (("/_/a", "/_/s"), "Sequence may not refer to itself."),
        (("/_/a",) * 51, "Too many actions in the sequence."),
    ],
)
async def test_invalid_sequence_is_400(client, atoms, components, message):
    response = await put(client, "s", seq(*components))
    assert (response.status_code, response.json()["error"]) == (400, message)


async def test_self_reference_through_a_nested_sequence_is_400(client, atoms):
    assert (await put(client, "inner", seq("/_/a"))).status_code == 200
    assert (await put(client, "outer", seq("/_/inner", "/_/b"))).status_code == 200
    response = await put(client, "inner", seq("/_/outer"), overwrite="true")
    assert (response.status_code, response.json()["error"]) == (400, "Sequence may not refer to itself.")


async def test_nested_sequences_count_their_atomic_actions(client, atoms):
    assert (await put(client, "half", seq(*["/_/a"] * 26))).status_code == 200
    response = await put(client, "whole", seq("/_/half", "/_/half"))
    assert (response.status_code, response.json()["error"]) == (400, "Too many actions in the sequence.")
    assert (await put(client, "fits", seq("/_/half", *["/_/b"] * 24))).status_code == 200


async def test_components_in_published_packages_and_bindings_are_accepted(client, atoms, other_auth):
    await client.put(f"{API}/_/packages/tools", json={"publish": True}, auth=other_auth)
    await client.put(f"{API}/_/packages/private", json={}, auth=other_auth)
    for path in ("tools/echo", "private/secret"):
        await client.put(f"{API}/_/actions/{path}", json={"exec": CODE}, auth=other_auth)
    await client.put(f"{API}/_/packages/mine", json={"binding": {"namespace": "other", "name": "tools"}})
    assert (await put(client, "s", seq("/other/tools/echo", "/_/mine/echo"))).status_code == 200
    response = await put(client, "t", seq("/other/private/secret"))
    assert (response.status_code, response.json()["error"]) == (
        403, "The supplied authentication is not authorized to access 'other/private/secret'.",
    )
