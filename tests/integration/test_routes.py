"""API gateway routes end to end: created with curl-like calls as `wsk api` sends them, served by a real
gateway running real web actions (GET and POST with path parameters, a Swagger-form create)."""

from __future__ import annotations

import json

import httpx

from tests.integration.actions import unique
from tests.integration.test_web_actions import anonymous, owner  # noqa: F401  (fixtures: a namespace of its own, no credentials)

APIMGMT = "/api/v1/web/whisk.system/apimgmt"
ECHO = ("function main(p) { return {statusCode: 200, headers: {'content-type': 'application/json'},"
        " body: {method: p.__ow_method, path: p.__ow_path, query: p.q, title: p.title}}; }")


def web_action(owner: httpx.Client, code: str = ECHO) -> str:
    name = unique("route")
    response = owner.put(f"/api/v1/namespaces/_/actions/{name}", json={
        "exec": {"kind": "nodejs:default", "code": code}, "annotations": [{"key": "web-export", "value": True}]})
    assert response.status_code == 200, response.text
    return name


def wsk_create(owner: httpx.Client, base: str, path: str, verb: str, action: str, response_type: str = "http") -> dict:
    """`wsk api create BASE PATH VERB ACTION --response-type T`, as its HTTP call."""
    body = {"apidoc": {
        "namespace": owner.namespace, "gatewayBasePath": base, "gatewayPath": path, "gatewayMethod": verb,
        "id": f"API:{owner.namespace}:{base}",
        "action": {"name": action, "namespace": owner.namespace, "backendMethod": verb, "authkey": "x:y",
                   "backendUrl": f"{owner.base_url}api/v1/web/{owner.namespace}/default/{action}.http"}}}
    response = owner.post(f"{APIMGMT}/createApi.http", params={
        "accesstoken": "DUMMY TOKEN", "responsetype": response_type, "spaceguid": "x"}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_get_and_a_post_with_path_parameters_run_the_web_action(owner, anonymous):
    action = web_action(owner)
    base = f"/{unique('club')}"
    wsk_create(owner, base, "/books/{isbn}", "GET", action)
    url = wsk_create(owner, base, "/books/{isbn}", "POST", action)["gwApiUrl"]
    got = anonymous.get(f"{url}/books/978-0596517748", params={"q": "1"})
    assert got.status_code == 200, got.text
    assert got.json() == {"method": "get", "path": f"{base}/books/978-0596517748", "query": "1"}
    posted = anonymous.post(f"{url}/books/42", json={"title": "Dune"})
    assert posted.json() == {"method": "post", "path": f"{base}/books/42", "title": "Dune"}
    assert anonymous.put(f"{url}/books/42").status_code == 405
    assert anonymous.get(f"{url}/magazines").status_code == 404


def test_list_get_and_delete_as_wsk_calls_them(owner):
    action = web_action(owner)
    base = f"/{unique('lib')}"
    wsk_create(owner, base, "/a", "GET", action, "json")
    wsk_create(owner, base, "/a", "PUT", action, "json")
    listed = owner.get(f"{APIMGMT}/getApi.http", params={"accesstoken": "DUMMY TOKEN", "basepath": base, "spaceguid": "x"})
    paths = listed.json()["apis"][0]["value"]["apidoc"]["paths"]
    assert sorted(paths["/a"]) == ["get", "put"]
    deleted = owner.delete(f"{APIMGMT}/deleteApi.http", params={"basepath": base, "relpath": "/a", "operation": "PUT"})
    assert (deleted.status_code, deleted.json()) == (200, {})
    missing = owner.delete(f"{APIMGMT}/deleteApi.http", params={"basepath": base, "relpath": "/b"})
    assert (missing.status_code, missing.json()) == (502, {"error": "API deletion failure: path '/b' does not exist in the API"})
    assert owner.delete(f"{APIMGMT}/deleteApi.http", params={"basepath": base}).json() == {}
    assert owner.get(f"{APIMGMT}/getApi.http", params={"basepath": base}).json() == {"apis": []}


def test_errors_are_502_with_openwhisks_message(owner, anonymous, whisklet):
    unauthenticated = anonymous.post(f"{whisklet.url}{APIMGMT}/createApi", json={"apidoc": {"namespace": "_"}})
    assert (unauthenticated.status_code, unauthenticated.json()) == (502, {"error": "A valid auth key is required."})
    assert owner.post(f"{APIMGMT}/createApi", json={}).json() == {"error": "apidoc is required."}
    bad_verb = owner.post(f"{APIMGMT}/createApi", json={"apidoc": {
        "namespace": "_", "gatewayBasePath": "/v", "gatewayPath": "/x", "gatewayMethod": "FETCH",
        "action": {"name": "a", "namespace": "_", "backendMethod": "GET", "backendUrl": "http://h/x", "authkey": "k"}}})
    assert bad_verb.json() == {"error": "API creation failure: Error: Resource verb 'FETCH' not supported."}


def test_a_swagger_form_create_is_served(owner, anonymous):
    action = web_action(owner)
    base = f"/{unique('svc')}"
    target = f"https://ignored.example/api/v1/web/{owner.namespace}/default/{action}.http$(request.path)"
    swagger = {"swagger": "2.0", "basePath": base, "info": {"title": "svc", "version": "1.0"},
               "paths": {"/items/{id}": {"get": {"operationId": "get-/items/{id}", "responses": {},
                                                 "parameters": [{"name": "id", "in": "path", "required": True}]}}},
               "x-ibm-configuration": {"assembly": {"execute": [{"operation-switch": {"case": [
                   {"operations": ["get-/items/{id}"], "execute": [{"invoke": {"target-url": target, "verb": "keep"}}]}]}}]}}}
    created = owner.post(f"{APIMGMT}/createApi", json={"apidoc": {"namespace": "_", "swagger": json.dumps(swagger)}})
    assert created.status_code == 200, created.text
    got = anonymous.get(f"{created.json()['gwApiUrl']}/items/7")
    assert got.json() == {"method": "get", "path": f"{base}/items/7"}
