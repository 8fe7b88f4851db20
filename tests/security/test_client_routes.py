"""Hostile route management and managed URLs: every document, path and route count is bounded, a route
runs only its own namespace's web actions, and nothing in a path becomes a header or a pattern.

Bounds (gateway/routes/validation.py, paths.py): a document of at most 256 KiB once encoded and 200
operations; 100 APIs and 1,000 routes (path + verb) per namespace; paths of at most 1,024 characters
and 32 segments, a `{name}` parameter only as a whole segment; request bodies as any web action (1 MB).
"""

from __future__ import annotations

import json

from gateway.routes import table
from gateway.routes.paths import MAX_SEGMENTS
from gateway.routes.validation import MAX_APIS_PER_NAMESPACE, MAX_OPERATIONS_PER_API, MAX_OPERATIONS_PER_NAMESPACE
from tests.gateway.api.conftest import client, config, controller, store  # noqa: F401
from tests.gateway.routes.conftest import APIMGMT, anonymous, endpoint, succeed, web_action  # noqa: F401


def swagger(base_path: str, paths: dict, namespace: str = "guest") -> dict:
    target = f"https://h/api/v1/web/{namespace}/default/act.http$(request.path)"
    cases = [{"operations": [f"op{index}"], "execute": [{"invoke": {"target-url": target, "verb": "keep"}}]}
             for index in range(len(paths))]
    return {"swagger": "2.0", "basePath": base_path, "info": {"title": base_path, "version": "1"},
            "paths": {path: {"get": {"operationId": f"op{index}", "parameters": value}}
                      for index, (path, value) in enumerate(paths.items())},
            "x-ibm-configuration": {"assembly": {"execute": [{"operation-switch": {"case": cases}}]}}}


async def create_swagger(client, doc) -> tuple[int, str]:
    response = await client.post(f"{APIMGMT}/createApi", json={"apidoc": {"namespace": "_", "swagger": json.dumps(doc)}})
    return response.status_code, response.json().get("error", "")


async def test_a_document_with_too_many_operations_is_refused_and_stores_nothing(client):
    doc = swagger("/big", {f"/p{index}": [] for index in range(MAX_OPERATIONS_PER_API + 1)})
    status, error = await create_swagger(client, doc)
    assert status == 502 and f"at most {MAX_OPERATIONS_PER_API} operations" in error
    assert (await client.get(f"{APIMGMT}/getApi")).json() == {"apis": []}


async def test_a_document_over_256_kib_is_refused(client):
    doc = swagger("/fat", {"/p": [{"name": "x", "in": "query", "description": "d" * 300_000}]})
    status, error = await create_swagger(client, doc)
    assert status == 502 and "at most 262144 are allowed" in error


async def test_a_deeply_nested_document_is_refused_before_it_is_decoded(client):
    deep = "[" * 100_000 + "]" * 100_000
    status, _error = await create_swagger(client, {"swagger": "2.0", "basePath": "/d", "info": {}, "paths": {}})
    assert status == 502
    response = await client.post(f"{APIMGMT}/createApi", json={"apidoc": {"namespace": "_", "swagger": deep}})
    assert (response.status_code, response.json()) == (502, {"error": "swagger field cannot be parsed. Ensure it is valid JSON."})
    raw = await client.post(f"{APIMGMT}/createApi", content=b'{"apidoc":' + deep.encode() + b"}",
                            headers={"content-type": "application/json"})
    assert raw.status_code == 400


async def test_regex_syntax_in_paths_is_literal_or_refused(client, anonymous, controller):
    await web_action(client, "act")
    for bad in ("/{id:.*}", "/x{id}", "/(a|a)*{b}", "/" + "a/" * (MAX_SEGMENTS + 1)):
        response = await client.post(f"{APIMGMT}/createApi?responsetype=http", json=endpoint("/r", bad, "GET", "act"))
        assert response.status_code == 502, bad
    literal = await client.post(f"{APIMGMT}/createApi", json=endpoint("/r", "/(a+)+", "GET", "act"))
    assert literal.status_code == 200, literal.text
    succeed(controller, {"ok": 1})
    assert (await anonymous.get("/api/guest/r/(a+)+")).status_code == 200
    assert (await anonymous.get("/api/guest/r/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")).status_code == 404


async def test_a_very_long_request_path_costs_a_bounded_number_of_lookups(client, anonymous, controller, monkeypatch):
    await web_action(client, "act")
    await client.post(f"{APIMGMT}/createApi?responsetype=http", json=endpoint("/r", "/{a}/{b}", "GET", "act"))
    lookups = 0
    resource = table._resource

    def counted(api, parts):
        nonlocal lookups
        lookups += 1
        return resource(api, parts)

    succeed(controller, {"body": "ok"})
    monkeypatch.setattr(table, "_resource", counted)
    response = await anonymous.get("/api/guest/r" + "/x" * 3000)
    assert response.status_code == 200
    assert lookups <= MAX_SEGMENTS + 1


async def test_a_route_to_another_namespaces_action_is_refused_in_both_forms(client, anonymous):
    status, error = await create_swagger(client, swagger("/steal", {"/x": []}, namespace="other"))
    assert status == 502 and "may only run web actions of its own namespace 'guest'" in error
    body = endpoint("/steal", "/x", "GET", "act")
    body["apidoc"]["action"]["namespace"] = "other"
    response = await client.post(f"{APIMGMT}/createApi", json=body)
    assert response.status_code == 502 and "may only run web actions of its own namespace" in response.json()["error"]
    assert (await anonymous.get("/api/guest/steal/x")).status_code == 404


async def test_path_parameters_and_set_variables_never_become_headers(client, anonymous, controller):
    await web_action(client, "act")
    doc = swagger("/h", {"/in/{id}": [{"name": "id", "in": "path"}]})
    doc["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"][0]["execute"].insert(
        0, {"set-variable": {"actions": [{"set": "message.headers.X-Ok", "value": "a\r\nX-Injected: yes"}]}})
    assert (await create_swagger(client, doc))[0] == 200
    succeed(controller, {"statusCode": 200, "body": "fine"})
    response = await anonymous.get("/api/guest/h/in/%0dX-Injected:%20yes")
    assert response.status_code == 200 and "x-injected" not in response.headers
    payload = controller.calls[-1]["payload"]
    assert payload["__ow_path"] == "/h/in/\rX-Injected: yes"  # the value stays in the path, where it belongs
    assert "x-injected" not in payload["__ow_headers"] and "x-ok" not in payload["__ow_headers"]
    refused = await anonymous.get("/api/guest/h/in/%0d%0aX-Injected:%20yes")  # no route takes a line break
    assert refused.status_code == 404 and "x-injected" not in refused.headers


async def test_apis_and_routes_per_namespace_are_bounded(client):
    per_api = MAX_OPERATIONS_PER_API
    for index in range(MAX_OPERATIONS_PER_NAMESPACE // per_api):
        assert (await create_swagger(client, swagger(f"/big{index}", {f"/p{n}": [] for n in range(per_api)})))[0] == 200
    status, error = await create_swagger(client, swagger("/one-more", {"/p": []}))
    assert status == 502 and f"at most {MAX_OPERATIONS_PER_NAMESPACE} routes" in error
    await client.delete(f"{APIMGMT}/deleteApi?basepath=/big0")
    for index in range(MAX_APIS_PER_NAMESPACE - MAX_OPERATIONS_PER_NAMESPACE // per_api + 1):
        assert (await client.post(f"{APIMGMT}/createApi", json=endpoint(f"/small{index}", "/p", "GET", "act"))).status_code == 200
    refused = await client.post(f"{APIMGMT}/createApi", json=endpoint("/small-extra", "/p", "GET", "act"))
    assert refused.status_code == 502 and f"at most {MAX_APIS_PER_NAMESPACE} APIs" in refused.json()["error"]
