"""Web actions end to end: a real gateway and real containers, called as a browser or curl would."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.integration.actions import activation, namespace_client, unique

ECHO = "function main(params) { return params; }"


@pytest.fixture(scope="module")
def owner(whisklet) -> httpx.Client:
    """The owner of the web actions: a namespace of its own, with throttles high enough for this module."""
    with namespace_client(whisklet, "webowner") as client:
        yield client


@pytest.fixture
def anonymous(whisklet) -> httpx.Client:
    with httpx.Client(base_url=whisklet.url, timeout=90) as client:
        yield client


def web_action(owner: httpx.Client, code: str, *, package: str | None = None, **annotations) -> str:
    """Create a web action (`wsk action create --web true`); return its web URL without extension."""
    name = unique("web")
    notes = {"web-export": True, "raw-http": False, "final": True, **annotations}
    path = f"{package}/{name}" if package else name
    response = owner.put(
        f"/api/v1/namespaces/_/actions/{path}",
        json={"exec": {"kind": "nodejs:default", "code": code},
              "annotations": [{"key": k, "value": v} for k, v in notes.items()]},
    )
    assert response.status_code == 200, response.text
    return f"/api/v1/web/{owner.namespace}/{package or 'default'}/{name}"


# --- input forms ---------------------------------------------------------------------------------


def test_get_passes_query_method_lowercase_headers_and_path(owner, anonymous):
    url = web_action(owner, ECHO)
    response = anonymous.get(f"{url}.json", params={"name": "Jane"}, headers={"X-Custom-Header": "Yes"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    value = response.json()
    assert value["name"] == "Jane"
    assert value["__ow_method"] == "get"
    assert value["__ow_headers"]["x-custom-header"] == "Yes"
    assert value["__ow_path"] == ""
    assert "__ow_user" not in value and "__ow_body" not in value


def test_path_after_the_action_is_ow_path(owner, anonymous):
    url = web_action(owner, "function main(p) { return {body: p.__ow_path}; }")
    assert anonymous.get(f"{url}/graphql/x").text == "/graphql/x"
    assert anonymous.get(f"{url}.http/graphql/x").text == "/graphql/x"


def test_path_after_json_or_text_projects_the_result(owner, anonymous):
    url = web_action(owner, "function main(p) { return {user: {name: p.name, tags: ['a']}}; }")
    assert anonymous.get(f"{url}.json/user", params={"name": "Jane"}).json() == {"name": "Jane", "tags": ["a"]}
    assert anonymous.get(f"{url}.text/user/name", params={"name": "Jane"}).text == "Jane"
    missing = anonymous.get(f"{url}.json/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"] == "Response does not include requested property."


def test_json_body_is_merged_over_the_query(owner, anonymous):
    url = web_action(owner, ECHO)
    value = anonymous.post(f"{url}.json?name=Query&q=1", json={"name": "Body", "n": 2}).json()
    assert (value["name"], value["q"], value["n"], value["__ow_method"]) == ("Body", "1", 2, "post")
    assert value["__ow_headers"]["content-type"] == "application/json"


def test_form_body_fields_are_merged_as_strings(owner, anonymous):
    url = web_action(owner, ECHO)
    value = anonymous.post(f"{url}.json", data={"name": "Jane Doe", "age": "42"}).json()
    assert (value["name"], value["age"]) == ("Jane Doe", "42")


def test_text_body_is_passed_as_ow_body(owner, anonymous):
    url = web_action(owner, ECHO)
    value = anonymous.put(f"{url}.json", content="plain words", headers={"Content-Type": "text/plain"}).json()
    assert (value["__ow_body"], value["__ow_method"]) == ("plain words", "put")


def test_binary_body_is_passed_base64(owner, anonymous):
    url = web_action(owner, ECHO)
    data = bytes(range(256)) * 4
    value = anonymous.patch(f"{url}.json", content=data, headers={"Content-Type": "application/octet-stream"}).json()
    assert base64.b64decode(value["__ow_body"]) == data
    assert value["__ow_method"] == "patch"


def test_raw_action_gets_the_query_string_and_the_body_unparsed(owner, anonymous):
    url = web_action(owner, ECHO, **{"raw-http": True})
    value = anonymous.post(f"{url}.json?name=Jane&x=1", json={"a": 1}).json()
    assert value["__ow_query"] == "name=Jane&x=1"
    assert base64.b64decode(value["__ow_body"]) == b'{"a":1}'
    assert "name" not in value and "a" not in value


def test_final_parameters_and_reserved_names_cannot_be_overridden(owner, anonymous):
    url = web_action(owner, ECHO)
    owner.put(f"/api/v1/namespaces/_/actions/{url.rsplit('/', 1)[1]}", params={"overwrite": "true"},
              json={"parameters": [{"key": "greeting", "value": "fixed"}]})
    for response in (anonymous.get(f"{url}.json", params={"greeting": "mine"}),
                     anonymous.get(f"{url}.json", params={"__ow_method": "put"})):
        assert response.status_code == 400
        assert response.json()["error"] == "Request defines parameters that are not allowed (e.g., reserved properties)."
    assert anonymous.get(f"{url}.json").json()["greeting"] == "fixed"


# --- results by extension ------------------------------------------------------------------------


def test_http_headers_cookies_and_string_status_code(owner, anonymous):
    url = web_action(owner, """function main() {
        return {statusCode: '201', headers: {'Set-Cookie': ['a=1; Path=/', 'b=2; Path=/'], 'X-Count': 2},
                body: '<p>created</p>'};
    }""")
    response = anonymous.get(url)
    assert response.status_code == 201
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["x-count"] == "2"
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert response.text == "<p>created</p>"
    assert response.headers["access-control-allow-origin"] == "*"


def test_result_without_body_is_204_with_no_content(owner, anonymous):
    url = web_action(owner, "function main() { return {msg: 'hi'}; }")
    response = anonymous.get(url)
    assert response.status_code == 204
    assert response.content == b"" and "content-type" not in response.headers


def test_redirect_is_302_with_a_location(owner, anonymous):
    url = web_action(owner, "function main() { return {statusCode: 302, headers: {location: 'https://example.org/next'}}; }")
    response = anonymous.get(url, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.org/next"


def test_binary_body_is_base64_decoded_for_image_types(owner, anonymous):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    url = web_action(owner, f"""function main() {{
        return {{headers: {{'Content-Type': 'image/png'}}, body: '{base64.b64encode(png).decode()}'}};
    }}""")
    response = anonymous.get(url)
    assert (response.status_code, response.headers["content-type"], response.content) == (200, "image/png", png)


def test_json_object_body_is_sent_as_json(owner, anonymous):
    url = web_action(owner, "function main() { return {statusCode: 200, body: {items: [1, 2]}}; }")
    response = anonymous.get(url)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"items": [1, 2]}


def test_json_html_svg_and_text_extensions(owner, anonymous):
    url = web_action(owner, """function main() {
        return {html: '<h1>page</h1>', svg: '<svg xmlns="http://www.w3.org/2000/svg"/>', text: 'plain', n: 1};
    }""")
    html = anonymous.get(f"{url}.html")
    assert (html.status_code, html.headers["content-type"], html.text) == (200, "text/html; charset=UTF-8", "<h1>page</h1>")
    svg = anonymous.get(f"{url}.svg")
    assert (svg.headers["content-type"], svg.text) == ("image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg"/>')
    text = anonymous.get(f"{url}.text")
    assert (text.headers["content-type"], text.text) == ("text/plain; charset=UTF-8", "plain")
    assert anonymous.get(f"{url}.json").json()["n"] == 1


def test_head_request_answers_headers_without_a_body(owner, anonymous):
    url = web_action(owner, "function main(p) { return {headers: {'X-Method': p.__ow_method}, body: 'ignored'}; }")
    response = anonymous.head(url)
    assert response.status_code == 200 and response.headers["x-method"] == "head"
    assert response.content == b""


def test_application_error_is_unwrapped_and_rendered(owner, anonymous):
    url = web_action(owner, "function main() { return Promise.reject({statusCode: 404, body: 'nope'}); }")
    response = anonymous.get(url)
    assert (response.status_code, response.text) == (404, "nope")


def test_developer_error_is_400(owner, anonymous):
    url = web_action(owner, "function main() { throw new Error('boom'); }")
    response = anonymous.get(f"{url}.json")
    assert response.status_code == 400
    assert response.json()["error"] == "There was an error processing your request."


# --- security, CORS, limits ----------------------------------------------------------------------


def test_require_whisk_auth_true_needs_credentials_and_gives_ow_user(owner, anonymous, wsk):
    url = web_action(owner, ECHO, **{"require-whisk-auth": True})
    refused = anonymous.get(f"{url}.json")
    assert refused.status_code == 401
    assert refused.json()["error"] == "Authentication is possible but has failed or not yet been provided."
    allowed = wsk.get(f"{url}.json")  # any valid credentials: here guest's, not the owner's
    assert allowed.status_code == 200
    assert allowed.json()["__ow_user"] == "guest"


def test_require_whisk_auth_secret_is_matched_against_the_header(owner, anonymous):
    url = web_action(owner, "function main() { return {body: 'secret ok'}; }", **{"require-whisk-auth": 7410983})
    assert anonymous.get(url, headers={"X-Require-Whisk-Auth": "nope"}).status_code == 401
    response = anonymous.get(url, headers={"X-Require-Whisk-Auth": "7410983"})
    assert (response.status_code, response.text) == (200, "secret ok")


def test_options_gets_cors_without_running_the_action(owner, anonymous):
    url = web_action(owner, ECHO)
    name = url.rsplit("/", 1)[1]
    response = anonymous.options(url, headers={"Origin": "http://localhost", "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "Content-Type, X-Token"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
    assert response.headers["access-control-allow-headers"] == "Content-Type, X-Token"
    counted = owner.get("/api/v1/namespaces/_/activations", params={"name": name, "count": "true"})
    assert counted.json() == {"activations": 0}


def test_custom_options_runs_the_action_without_cors(owner, anonymous):
    url = web_action(owner, "function main(p) { return {headers: {'Allow': 'GET, OPTIONS'}, statusCode: 200}; }",
                     **{"web-custom-options": True})
    response = anonymous.options(url)
    assert response.status_code == 200 and response.headers["allow"] == "GET, OPTIONS"
    assert "access-control-allow-origin" not in response.headers


def test_activation_is_recorded_under_the_owner_namespace(owner, wsk):
    url = web_action(owner, "function main() { console.log('web log'); return {body: 'ok'}; }")
    response = wsk.get(url)  # called by guest
    activation_id = response.headers["x-openwhisk-activation-id"]
    record = activation(owner, activation_id)
    assert record["namespace"] == owner.namespace
    assert record["logs"][0].endswith("stdout: web log")
    assert wsk.get(f"/api/v1/namespaces/_/activations/{activation_id}").status_code == 404


def test_body_over_the_payload_limit_is_413(owner, anonymous):
    url = web_action(owner, ECHO)
    response = anonymous.post(url, content=b"x" * (1048576 + 1), headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    assert response.json()["error"] == "Request larger than allowed: 1048577 > 1048576 bytes."


def test_action_without_web_export_is_404(owner, anonymous):
    name = unique("private")
    owner.put(f"/api/v1/namespaces/_/actions/{name}", json={"exec": {"kind": "nodejs:default", "code": ECHO}})
    response = anonymous.get(f"/api/v1/web/{owner.namespace}/default/{name}.json")
    assert response.status_code == 404
    assert response.json()["error"] == "The requested resource does not exist."


def test_action_in_a_package_is_served_under_the_package_name(owner, anonymous):
    package = unique("site")
    assert owner.put(f"/api/v1/namespaces/_/packages/{package}", json={}).status_code == 200
    url = web_action(owner, "function main() { return {html: '<p>in a package</p>'}; }", package=package)
    assert anonymous.get(f"{url}.html").text == "<p>in a package</p>"


def test_sequence_is_a_web_action(owner, anonymous):
    first = web_action(owner, "function main(p) { return {name: p.name.toUpperCase()}; }").rsplit("/", 1)[1]
    second = web_action(owner, "function main(p) { return {body: '<b>' + p.name + '</b>'}; }").rsplit("/", 1)[1]
    name = unique("webseq")
    response = owner.put(
        f"/api/v1/namespaces/_/actions/{name}",
        json={"exec": {"kind": "sequence", "components": [f"/_/{first}", f"/_/{second}"]},
              "annotations": [{"key": "web-export", "value": True}]},
    )
    assert response.status_code == 200, response.text
    page = anonymous.get(f"/api/v1/web/{owner.namespace}/default/{name}", params={"name": "ada"})
    assert (page.status_code, page.text) == (200, "<b>ADA</b>")
