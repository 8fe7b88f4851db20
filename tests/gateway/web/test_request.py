"""Web actions as pure functions (gateway/web/request.py): the URL, the annotations, the input by content type."""

from __future__ import annotations

import base64

import pytest

from gateway.web.request import WebRequest, action_input, cors_headers, is_binary, parse_target, whisk_auth_satisfied
from gateway.wire.errors import ApiError
from gateway.wire.models import Action, ActionLimits, Exec, KeyValue


def action(**annotations: object) -> Action:
    return Action(
        namespace="guest", name="hello", version="0.0.1", publish=False,
        exec=Exec(kind="nodejs:20", code="function main() {}"), parameters=[],
        annotations=[KeyValue(key, value) for key, value in annotations.items()],
        limits=ActionLimits(), updated=0,
    )


def request(body: bytes = b"", content_type: str | None = None, query: str = "", **fields) -> WebRequest:
    headers = [("Host", "localhost"), ("Accept", "*/*")]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return WebRequest(method=fields.pop("method", "POST"), headers=headers, query_string=query, body=body,
                      path=fields.pop("path", ""), **fields)


def error_of(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.message


# --- the URL -------------------------------------------------------------------------------------


def test_known_extension_is_split_from_the_action_name():
    target = parse_target("guest", "demo", "hello.json")
    assert (target.namespace, target.package, target.action, target.extension, target.path) == (
        "guest", "demo", "hello", "json", "")


def test_no_extension_means_http():
    assert parse_target("guest", "default", "hello").extension == "http"


def test_default_package_is_no_package():
    assert parse_target("guest", "default", "hello").package is None


def test_unknown_extension_stays_part_of_the_name():
    target = parse_target("guest", "default", "my.action.v2")
    assert (target.action, target.extension) == ("my.action.v2", "http")


def test_path_after_the_action_segment_is_ow_path():
    target = parse_target("guest", "default", "proxy.http/graphql/x")
    assert (target.action, target.extension, target.path) == ("proxy", "http", "/graphql/x")
    assert parse_target("guest", "default", "proxy/").path == "/"


def test_underscore_namespace_is_not_found():
    assert error_of(parse_target, "_", "default", "hello") == (404, "The requested resource does not exist.")


def test_illegal_names_are_not_found():
    assert error_of(parse_target, "guest", "default", ".json")[0] == 404
    assert error_of(parse_target, "gu est ", "default", "hello")[0] == 404


# --- annotations ---------------------------------------------------------------------------------


def test_require_whisk_auth_true_needs_valid_credentials():
    secured = action(**{"require-whisk-auth": True})
    assert not whisk_auth_satisfied(secured, authenticated=False, secret=None)
    assert whisk_auth_satisfied(secured, authenticated=True, secret=None)


def test_require_whisk_auth_secret_must_match_the_header_exactly():
    secured = action(**{"require-whisk-auth": "s3cret"})
    assert whisk_auth_satisfied(secured, authenticated=False, secret="s3cret")
    assert not whisk_auth_satisfied(secured, authenticated=True, secret="S3CRET")
    assert not whisk_auth_satisfied(secured, authenticated=True, secret=None)


def test_require_whisk_auth_number_is_compared_as_text():
    secured = action(**{"require-whisk-auth": 7410983})
    assert whisk_auth_satisfied(secured, authenticated=False, secret="7410983")
    assert not whisk_auth_satisfied(secured, authenticated=False, secret="7410984")


def test_require_whisk_auth_false_or_absent_lets_everyone_in():
    assert whisk_auth_satisfied(action(**{"require-whisk-auth": False}), authenticated=False, secret=None)
    assert whisk_auth_satisfied(action(), authenticated=False, secret=None)


def test_cors_allows_the_requested_headers_or_the_default_list():
    assert dict(cors_headers({})) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH",
        "Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
    }
    asked = dict(cors_headers({"access-control-request-headers": "X-Custom"}))
    assert asked["Access-Control-Allow-Headers"] == "X-Custom"


# --- the input -----------------------------------------------------------------------------------


def test_input_carries_method_lowercase_headers_and_path():
    value = action_input(request(method="GET", path="/a/b"), raw=False)
    assert value["__ow_method"] == "get"
    assert value["__ow_headers"] == {"host": "localhost", "accept": "*/*"}
    assert value["__ow_path"] == "/a/b"
    assert "__ow_user" not in value and "__ow_body" not in value and "__ow_query" not in value


def test_user_is_given_when_the_request_was_authenticated():
    assert action_input(request(user="guest"), raw=False)["__ow_user"] == "guest"


def test_query_parameters_become_string_properties():
    value = action_input(request(query="name=Jane&n=1&empty="), raw=False)
    assert (value["name"], value["n"], value["empty"]) == ("Jane", "1", "")


def test_json_object_body_is_merged_over_the_query():
    value = action_input(request(b'{"name":"Body","n":2}', "application/json", query="name=Query&q=1"), raw=False)
    assert (value["name"], value["n"], value["q"]) == ("Body", 2, "1")
    assert value["__ow_headers"]["content-type"] == "application/json"


def test_json_array_body_is_passed_as_ow_body():
    assert action_input(request(b"[1,2]", "application/json"), raw=False)["__ow_body"] == [1, 2]
    assert action_input(request(b'"text"', "application/json"), raw=False)["__ow_body"] == "text"


def test_malformed_json_body_is_400():
    status, message = error_of(action_input, request(b"{nope", "application/json"), raw=False)
    assert status == 400 and message.startswith("The request content was malformed:")


def test_form_body_fields_are_merged_as_strings():
    value = action_input(request(b"name=Jane+Doe&age=42", "application/x-www-form-urlencoded"), raw=False)
    assert (value["name"], value["age"]) == ("Jane Doe", "42")


def test_text_body_is_ow_body_as_text():
    value = action_input(request("héllo".encode(), "text/plain; charset=utf-8"), raw=False)
    assert value["__ow_body"] == "héllo"


def test_binary_body_is_ow_body_in_base64():
    data = bytes(range(256))
    for content_type in ("application/octet-stream", "image/png", None):
        value = action_input(request(data, content_type), raw=False)
        assert base64.b64decode(value["__ow_body"]) == data


def test_empty_body_adds_nothing():
    assert "__ow_body" not in action_input(request(b"", "application/json"), raw=False)


@pytest.mark.parametrize("query, body", [
    ("__ow_method=put", b""),
    ("", b'{"__ow_headers": {}}'),
    ("__ow_user=admin", b""),
    ("", b"__ow_body=x"),
])
def test_reserved_names_in_query_or_body_are_refused(query, body):
    content_type = "application/json" if body.startswith(b"{") else "application/x-www-form-urlencoded"
    assert error_of(action_input, request(body, content_type, query=query), raw=False) == (
        400, "Request defines parameters that are not allowed (e.g., reserved properties).")


def test_raw_input_has_the_query_string_and_json_body_in_base64():
    value = action_input(request(b'{"a":1}', "application/json", query="name=Jane&x=1"), raw=True)
    assert value["__ow_query"] == "name=Jane&x=1"
    assert base64.b64decode(value["__ow_body"]) == b'{"a":1}'
    assert "name" not in value and "a" not in value


def test_raw_text_body_is_plain_and_missing_body_is_empty_string():
    assert action_input(request(b"a=1&b=2", "application/x-www-form-urlencoded"), raw=True)["__ow_body"] == "a=1&b=2"
    assert action_input(request(), raw=True)["__ow_body"] == ""
    assert action_input(request(b"\x00\x01", "application/octet-stream"), raw=True)["__ow_body"] == "AAE="


def test_raw_input_may_use_reserved_looking_query_names():
    assert action_input(request(query="__ow_method=x"), raw=True)["__ow_method"] == "post"


def test_binary_media_types():
    assert all(map(is_binary, ["image/png", "application/octet-stream", "application/pdf", "audio/mpeg"]))
    assert not any(map(is_binary, ["text/html", "application/json", "application/problem+json",
                                   "image/svg+xml", "application/xml", "application/x-www-form-urlencoded"]))
