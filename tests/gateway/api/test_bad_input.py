"""Malformed requests: each gets its status and the `{error, code}` envelope, and nothing is stored half-way."""

from __future__ import annotations

import pytest

from gateway.store import EntityKind

ACTIONS = "/api/v1/namespaces/_/actions"
HELLO = {"exec": {"kind": "nodejs:default", "code": "function main() { return {}; }"}}


def envelope(response) -> str:
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["code"] == response.headers["x-request-id"]
    return body["error"]


@pytest.mark.parametrize(
    "authorization",
    ["Basic \u00e9t\u00e9", "Basic !!!", "Basic " + "QQ==" * 3, "Bearer abc", "Basic", "\u00ff" * 100],
)
async def test_garbled_credentials_are_401_never_500(client, authorization):
    response = await client.get("/api/v1/namespaces", auth=None,
                                headers={"authorization": authorization.encode("latin-1")})
    assert response.status_code == 401
    assert envelope(response).startswith("The ")
    assert response.headers["www-authenticate"] == 'Basic realm="OpenWhisk secure realm"'


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"{ACTIONS}/%FF%FE", "The name of the entity contains illegal characters."),
        (f"{ACTIONS}/a%00b", "The name of the entity contains illegal characters."),
        (f"{ACTIONS}/" + "a" * 300, "The name of the entity contains illegal characters."),
        ("/api/v1/namespaces/%20bad/actions/x", "The namespace contains illegal characters."),
        ("/api/v1/namespaces/_/activations/xyz", "Activation id length is 3 but must be 32."),
        ("/api/v1/namespaces/_/activations/" + "Z" * 32, "The activation id is not valid."),
    ],
)
async def test_invalid_names_and_ids_are_400_with_the_validation_text(client, path, message):
    response = await client.get(path)
    assert response.status_code == 400
    assert envelope(response) == message


@pytest.mark.parametrize(
    "query",
    [{"limit": "1e3"}, {"limit": "99999999999999999999"}, {"skip": "-1"}, {"limit": "201"}, {"count": "maybe"}],
)
async def test_bad_query_parameters_are_400(client, query):
    response = await client.get(ACTIONS, params=query)
    assert response.status_code == 400
    envelope(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", f"{ACTIONS}/x"), ("POST", ACTIONS), ("DELETE", "/api/v1/namespaces"),
     ("PUT", "/api/v1/namespaces/_/limits")],
)
async def test_methods_a_route_does_not_have_are_405(client, method, path):
    response = await client.request(method, path)
    assert response.status_code == 405
    envelope(response)


@pytest.mark.parametrize("path", ["/api/v2", "/api/v1/namespaces/_/actions/a/b/c", "/api/v1/namespaces/_/bogus", "/x"])
async def test_unknown_routes_are_404(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert envelope(response) == "The requested resource could not be found."


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b'{"exec": {"kind": "nodejs:default", "code": 42}}', "application/json", 400),
        (b'{"exec": {"kind": "cobol:1", "code": "x"}}', "application/json", 400),
        (b'{"exec": {"kind": "nodejs:default", "code": "x"}, "limits": {"memory": 4096}}', "application/json", 400),
        (b'{"exec": {"kind": "nodejs:default", "code": "x"}, "limits": {"timeout": "soon"}}', "application/json", 400),
        (b'{"exec": {"kind": "nodejs:default", "code": "x"}, "parameters": {"k": "v"}}', "application/json", 400),
        (b'{"exec": {"kind": "nodejs:default", "code": "x"}}', "text/plain", 415),
        (b'{"exec": {"kind": "nodejs:default", "code": "x"}}', "application/x-www-form-urlencoded", 415),
    ],
)
async def test_a_rejected_put_stores_nothing(client, store, content, content_type, status):
    response = await client.put(f"{ACTIONS}/half", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    envelope(response)
    assert await store.get_entity("guest", "half") is None


async def test_a_put_over_the_size_limit_is_413_and_stores_nothing(client, store, config):
    code = "x" * (config.limits.code_max_bytes + 1)
    response = await client.put(f"{ACTIONS}/huge", json={"exec": {"kind": "nodejs:default", "code": code}})
    assert response.status_code == 413
    assert envelope(response).startswith(("exec larger than allowed", "Request larger than allowed"))
    assert await store.count_entities(EntityKind.ACTION, "guest") == 0


@pytest.mark.parametrize("content", [b"[]", b"1", b"null", b"{", b'{"a":1}{"b":2}'])
async def test_an_invoke_with_a_bad_body_starts_nothing_and_frees_its_slot(client, controller, content):
    assert (await client.put(f"{ACTIONS}/hello", json=HELLO)).status_code == 200
    response = await client.post(f"{ACTIONS}/hello", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    envelope(response)
    assert controller.calls == []
    assert all(admission.released for admission in controller.admitted)
