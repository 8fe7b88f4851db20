"""Managed URLs over ASGI: a route runs its web action with the request's method, path, query and body."""

from __future__ import annotations

import json

from tests.gateway.routes.conftest import APIMGMT, GUEST, endpoint, succeed, web_action


async def books_route(client, verb: str = "GET", response_type: str = "http", path: str = "/books/{isbn}") -> str:
    await web_action(client, "getBooks")
    response = await client.post(f"{APIMGMT}/createApi?responsetype={response_type}",
                                 json=endpoint("/club", path, verb, "getBooks"))
    assert response.status_code == 200, response.text
    return response.json()["gwApiUrl"].removeprefix("http://whisklet")


async def test_a_get_with_a_path_parameter_runs_the_action_with_the_path_query_and_method(client, anonymous, controller):
    base = await books_route(client)
    succeed(controller, {"body": {"isbn": 42}})
    response = await anonymous.get(f"{base}/books/978-0596517748?x=1")
    assert response.status_code == 200 and response.json() == {"isbn": 42}
    payload = controller.calls[-1]["payload"]
    assert (payload["x"], payload["__ow_method"], payload["__ow_path"]) == ("1", "get", "/club/books/978-0596517748")
    assert payload["__ow_headers"]["x-forwarded-url"] == "http://whisklet/api/guest/club/books/978-0596517748?x=1"


async def test_a_post_passes_its_json_body_as_parameters(client, anonymous, controller):
    base = await books_route(client, "POST")
    succeed(controller, {"statusCode": 201, "body": "made"})
    response = await anonymous.post(f"{base}/books/7", json={"title": "Dune"})
    assert (response.status_code, response.text) == (201, "made")
    payload = controller.calls[-1]["payload"]
    assert (payload["title"], payload["__ow_method"]) == ("Dune", "post")


async def test_a_json_route_renders_the_whole_result_as_json(client, anonymous, controller):
    base = await books_route(client, response_type="json", path="/books")
    succeed(controller, {"books": []})
    response = await anonymous.get(f"{base}/books")
    assert response.json() == {"books": []} and response.headers["content-type"].startswith("application/json")


async def test_the_uuid_of_the_namespaces_key_serves_its_routes_too(client, anonymous, controller):
    await books_route(client)
    succeed(controller, {"body": "ok"})
    assert (await anonymous.get(f"/api/{GUEST[0]}/club/books/1")).text == "ok"
    assert (await anonymous.get("/apis/guest/club/books/1")).text == "ok"


async def test_unknown_paths_are_404_and_unknown_verbs_405(client, anonymous):
    base = await books_route(client)
    missing = await anonymous.get(f"{base}/magazines")
    assert (missing.status_code, missing.json()) == (404, {"status": 404, "message": "Error: Not found."})
    wrong = await anonymous.delete(f"{base}/books/1")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert (await anonymous.get("/api/nobody/club/books/1")).status_code == 404


async def test_cors_preflight_is_answered_without_running_the_action(client, anonymous, controller):
    base = await books_route(client)
    response = await anonymous.options(f"{base}/books/1", headers={"Access-Control-Request-Headers": "X-Custom"})
    assert response.status_code == 200 and response.headers["access-control-allow-headers"] == "X-Custom"
    assert controller.calls == []


async def test_a_deleted_route_stops_answering_at_once(client, anonymous, controller):
    base = await books_route(client)
    succeed(controller, {"body": "ok"})
    assert (await anonymous.get(f"{base}/books/1")).status_code == 200
    await client.delete(f"{APIMGMT}/deleteApi?basepath=/club")
    assert (await anonymous.get(f"{base}/books/1")).status_code == 404


async def test_deleting_the_target_action_leaves_a_route_that_answers_the_web_actions_404(client, anonymous):
    base = await books_route(client)
    await client.delete("/api/v1/namespaces/_/actions/getBooks")
    response = await anonymous.get(f"{base}/books/1")
    assert response.status_code == 404
    assert response.json()["error"] == "The requested resource does not exist."


async def test_a_secure_key_route_satisfies_the_actions_require_whisk_auth(client, anonymous, controller):
    notes = [{"key": "web-export", "value": True}, {"key": "require-whisk-auth", "value": "s3cret"}]
    await client.put("/api/v1/namespaces/_/actions/guarded", json={
        "exec": {"kind": "nodejs:default", "code": "function main() {}"}, "annotations": notes})
    body = endpoint("/g", "/in", "GET", "guarded")
    body["apidoc"]["action"]["secureKey"] = "s3cret"
    assert (await client.post(f"{APIMGMT}/createApi?responsetype=http", json=body)).status_code == 200
    succeed(controller, {"body": "in"})
    assert (await anonymous.get("/api/guest/g/in")).text == "in"
    assert (await anonymous.get("/api/v1/web/guest/default/guarded")).status_code == 401


async def test_a_serverless_swagger_with_set_variable_before_invoke_is_served(client, anonymous, controller):
    await web_action(client, "hello")
    target = "https://x/api/v1/web/guest/default/hello.http$(request.path)"
    swagger = {"swagger": "2.0", "basePath": "/", "info": {"title": "svc", "version": "1.0"},
               "paths": {"/hello/{name}": {"get": {"operationId": "get-/hello/{name}",
                                                   "parameters": [{"name": "name", "in": "path"}], "responses": {}}}},
               "x-ibm-configuration": {"assembly": {"execute": [{"operation-switch": {"case": [
                   {"operations": ["get-/hello/{name}"], "execute": [
                       {"set-variable": {"actions": [{"set": "message.headers.X-Extra", "value": 7}]}},
                       {"invoke": {"target-url": target, "verb": "keep"}}]}]}}]}}}
    response = await client.post(f"{APIMGMT}/createApi", json={"apidoc": {"namespace": "_", "swagger": swagger}})
    assert response.status_code == 200, response.text
    assert response.json()["gwApiUrl"] == "http://whisklet/api/guest"
    succeed(controller, {"body": "hi"})
    assert (await anonymous.get("/api/guest/hello/jane")).text == "hi"
    payload = controller.calls[-1]["payload"]
    assert payload["__ow_path"] == "/hello/jane" and payload["__ow_headers"]["x-extra"] == "7"
    assert json.dumps(payload).count("jane") == 2  # the path and the forwarded URL, nowhere else


async def test_an_api_with_cors_disabled_sends_no_cors_headers(client, anonymous, controller):
    await web_action(client, "hello")
    target = "https://x/api/v1/web/guest/default/hello.http"
    swagger = {"swagger": "2.0", "basePath": "/nocors", "info": {"title": "t", "version": "1"},
               "paths": {"/p": {"get": {"operationId": "g", "x-openwhisk": {"url": target}},
                                "options": {"operationId": "o", "x-openwhisk": {"url": target}}}},
               "x-ibm-configuration": {"cors": {"enabled": False}}}
    assert (await client.post(f"{APIMGMT}/createApi", json={"apidoc": {"namespace": "_", "swagger": swagger}})).status_code == 200
    succeed(controller, {"body": "plain"})
    response = await anonymous.get("/api/guest/nocors/p")
    assert response.text == "plain" and not [name for name in response.headers if name.startswith("access-control-")]
    preflight = await anonymous.options("/api/guest/nocors/p")
    assert not [name for name in preflight.headers if name.startswith("access-control-")]
