"""createApi / getApi / deleteApi over ASGI, as `wsk api`, aio and the npm client call them (§2-§5)."""

from __future__ import annotations

import json

from tests.gateway.routes.conftest import APIMGMT, endpoint, web_action


async def create(client, body, query: str = ""):
    return await client.post(f"{APIMGMT}/createApi.http{query}", json=body)


async def test_an_endpoint_create_answers_the_api_object_clients_parse(client):
    await web_action(client, "getBooks")
    response = await create(client, endpoint("/club", "/books", "GET", "getBooks", name="Book Club"))
    assert response.status_code == 200, response.text
    api = response.json()
    assert (api["namespace"], api["gwApiActivated"], api["tenantId"]) == ("Not Used", True, "Not Used")
    assert api["gwApiUrl"] == "http://whisklet/api/guest/club"
    assert api["apidoc"]["info"]["title"] == "Book Club"
    operation = api["apidoc"]["paths"]["/books"]["get"]
    assert operation["x-openwhisk"] == {"url": "http://whisklet/api/v1/web/guest/default/getBooks.json",
                                        "namespace": "guest", "package": "", "action": "getBooks"}


async def test_endpoint_creates_merge_into_the_api_and_keep_its_first_title(client):
    await web_action(client, "getBooks")
    await create(client, endpoint("/club", "/books", "GET", "getBooks", name="Book Club"))
    response = await create(client, endpoint("club/", "/books", "POST", "getBooks", name="Renamed"))
    doc = response.json()["apidoc"]
    assert sorted(doc["paths"]["/books"]) == ["get", "post"] and doc["info"]["title"] == "Book Club"


async def test_a_swagger_string_replaces_the_whole_api_and_comes_back_verbatim(client):
    await create(client, endpoint("/club", "/old", "GET", "getBooks"))
    swagger = {"swagger": "2.0", "basePath": "/club", "info": {"title": "Club", "version": "1.0"}, "paths": {
        "/new/{id}": {"post": {"operationId": "post-/new/{id}", "parameters": [{"name": "id", "in": "path"}],
                               "x-openwhisk": {"namespace": "guest", "package": "default", "action": "a",
                                               "url": "https://x/api/v1/web/guest/default/a.http"}}}},
        "x-ibm-configuration": {"assembly": {"execute": [{"operation-switch": {"case": [{"operations": ["post-/new/{id}"],
            "execute": [{"set-variable": {"actions": []}},
                        {"invoke": {"target-url": "https://x/api/v1/web/guest/default/a.http$(request.path)",
                                    "verb": "keep"}}]}]}}]}}}
    response = await create(client, {"apidoc": {"namespace": "_", "swagger": json.dumps(swagger)}})
    assert response.status_code == 200, response.text
    assert response.json()["apidoc"] == swagger
    listed = (await client.get(f"{APIMGMT}/getApi.http?basepath=/club")).json()["apis"]
    assert [api["value"]["apidoc"] for api in listed] == [swagger]


async def test_argument_errors_are_502_with_the_bare_message_and_no_code(client, anonymous):
    cases = [
        (anonymous, {"apidoc": {"namespace": "_"}}, "A valid auth key is required."),
        (client, {}, "apidoc is required."),
        (client, {"apidoc": "{nope"}, "apidoc field cannot be parsed. Ensure it is valid JSON."),
        (client, {"apidoc": 5}, "apidoc field is of type number and should be a JSON object or a JSON string."),
        (client, {"apidoc": {}}, "apidoc is missing the namespace field"),
        (client, {"apidoc": {"namespace": "_", "swagger": "{}", "gatewayBasePath": "/a"}},
         "swagger and gatewayBasePath are mutually exclusive and cannot be specified together."),
        (client, {"apidoc": {"namespace": "_", "swagger": "{}"}}, "swagger is missing the basePath field."),
        (client, {"apidoc": {"namespace": "_", "gatewayBasePath": "/a"}}, "apidoc is missing the gatewayPath field"),
    ]
    for caller, body, message in cases:
        response = await create(caller, body)
        assert (response.status_code, response.json()) == (502, {"error": message})


async def test_invalid_paths_verbs_and_parameters_fail_with_the_creation_prefix(client):
    cases = [
        (endpoint("/a", "books", "GET", "x"), "API creation failure: Error: Resource path must begin with '/'."),
        (endpoint("/a", "/books", "FETCH", "x"), "API creation failure: Error: Resource verb 'FETCH' not supported."),
        (endpoint("/{a}", "/b", "GET", "x"), "API creation failure: The base path (/{a}) cannot have parameters."
         " Only the relative path supports path parameters."),
        (endpoint("/a", "/b/{id}", "GET", "x"),
         "API creation failure: The action must use a response type of '.http' in order to receive the path parameters."),
    ]
    for body, message in cases:
        response = await create(client, body)
        assert (response.status_code, response.json()) == (502, {"error": message})


async def test_an_existing_target_must_be_a_web_action_but_a_missing_one_is_allowed(client):
    await web_action(client, "plain", web=False)
    refused = await create(client, endpoint("/a", "/b", "GET", "plain"))
    assert refused.status_code == 502
    assert "Action '/guest/plain' is not a web action." in refused.json()["error"]
    assert (await create(client, endpoint("/a", "/b", "GET", "notYetThere"))).status_code == 200


async def test_a_route_to_another_namespaces_action_is_refused(client):
    response = await create(client, endpoint("/a", "/b", "GET", "x", namespace="other"))
    assert response.status_code == 502
    assert "may only run web actions of its own namespace" in response.json()["error"]


async def test_get_lists_apis_by_base_path_with_paging_and_filters_by_path_or_name(client):
    for base in ("/c", "/a", "/b"):
        await create(client, endpoint(base, "/x", "GET", "act", name=f"name{base[1:]}"))

    async def bases(query: str) -> list[str]:
        response = await client.get(f"{APIMGMT}/getApi{query}")
        assert response.status_code == 200
        return [api["value"]["apidoc"]["basePath"] for api in response.json()["apis"]]

    assert await bases("") == ["/a", "/b", "/c"]
    assert await bases("?limit=undefined&skip=undefined&relpath=undefined&operation=undefined") == ["/a", "/b", "/c"]
    assert await bases("?limit=1&skip=1") == ["/b"]
    assert await bases("?limit=0") == []
    assert await bases("?basepath=/c/") == ["/c"]
    assert await bases("?basepath=nameb") == ["/b"]
    assert await bases("?basepath=/unknown") == []


async def test_apis_are_per_namespace(client, other):
    await create(client, endpoint("/mine", "/x", "GET", "act"))
    response = await other.get(f"{APIMGMT}/getApi")
    assert response.json() == {"apis": []}


async def test_delete_by_verb_then_by_path_then_by_base_path(client):
    await create(client, endpoint("/a", "/x", "GET", "act"))
    await create(client, endpoint("/a", "/x", "POST", "act"))
    await create(client, endpoint("/a", "/y", "GET", "act"))

    async def paths() -> dict[str, list[str]]:
        apis = (await client.get(f"{APIMGMT}/getApi?basepath=/a")).json()["apis"]
        return {path: sorted(ops) for api in apis for path, ops in api["value"]["apidoc"]["paths"].items()}

    assert (await client.delete(f"{APIMGMT}/deleteApi?basepath=/a&relpath=/x&operation=GET")).json() == {}
    assert await paths() == {"/x": ["post"], "/y": ["get"]}
    assert (await client.delete(f"{APIMGMT}/deleteApi?basepath=/a&relpath=/x&force=true")).status_code == 200
    assert await paths() == {"/y": ["get"]}
    assert (await client.delete(f"{APIMGMT}/deleteApi?basepath=/a&relpath=undefined&operation=undefined")).json() == {}
    assert await paths() == {}


async def test_deleting_the_last_path_deletes_the_api(client):
    await create(client, endpoint("/a", "/x", "GET", "act"))
    await client.delete(f"{APIMGMT}/deleteApi?basepath=/a&relpath=/x")
    assert (await client.get(f"{APIMGMT}/getApi")).json() == {"apis": []}


async def test_delete_errors_use_openwhisks_messages(client, anonymous):
    await create(client, endpoint("/a", "/x", "GET", "act"))
    cases = [
        (anonymous, "?basepath=/a", "Invalid authentication."),
        (client, "", "basepath is required."),
        (client, "?basepath=/a&operation=get", "When specifying an operation, the path is required."),
        (client, "?basepath=/zz", "API deletion failure: API '/zz' does not exist."),
        (client, "?basepath=/a&relpath=/nope", "API deletion failure: path '/nope' does not exist in the API"),
        (client, "?basepath=/a&relpath=/x&operation=PUT",
         "API deletion failure: path '/x' with operation 'put' does not exist in the API"),
    ]
    for caller, query, message in cases:
        response = await caller.delete(f"{APIMGMT}/deleteApi{query}")
        assert (response.status_code, response.json()) == (502, {"error": message})


async def test_reserved_parameters_are_refused(client):
    response = await client.get(f"{APIMGMT}/getApi?__ow_user=other")
    assert response.status_code == 400


async def test_a_preflight_to_the_management_actions_runs_nothing(client):
    response = await client.options(f"{APIMGMT}/createApi", headers={"Access-Control-Request-Headers": "authorization"})
    assert response.status_code == 200 and response.headers["access-control-allow-headers"] == "authorization"
    assert (await client.get(f"{APIMGMT}/getApi")).json() == {"apis": []}


async def test_concurrent_creates_on_one_base_path_all_merge(client):
    import asyncio

    responses = await asyncio.gather(*(create(client, endpoint("/busy", f"/p{index}", "GET", "act")) for index in range(12)))
    assert [response.status_code for response in responses] == [200] * 12
    apis = (await client.get(f"{APIMGMT}/getApi?basepath=/busy")).json()["apis"]
    assert len(apis[0]["value"]["apidoc"]["paths"]) == 12
