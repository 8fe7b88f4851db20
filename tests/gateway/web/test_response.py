"""Web action responses (gateway/web/response.py): which value is rendered, and how, per extension."""

from __future__ import annotations

import base64

import pytest

from gateway.web.response import handed_result, render, render_activation
from gateway.wire.errors import ApiError
from pool import ActivationStatus

SUCCESS, APPLICATION_ERROR = ActivationStatus.SUCCESS, ActivationStatus.APPLICATION_ERROR


def error_of(call, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.message


# --- the result: which value is rendered -----------------------------------------------------------


def test_success_hands_over_the_result_and_application_error_its_error_value():
    assert handed_result(SUCCESS, {"a": 1}) == {"a": 1}
    assert handed_result(APPLICATION_ERROR, {"error": {"statusCode": 404}}) == {"statusCode": 404}


@pytest.mark.parametrize("status", [ActivationStatus.DEVELOPER_ERROR, ActivationStatus.INTERNAL_ERROR])
def test_developer_and_internal_errors_are_400(status):
    assert error_of(handed_result, status, {"error": "boom"}) == (400, "There was an error processing your request.")


def test_application_error_is_rendered_without_projection():
    error = {"error": {"body": "ignored by .text", "text": "also ignored"}}
    assert render_activation(APPLICATION_ERROR, error, "json", "/body").body == (
        b'{"body":"ignored by .text","text":"also ignored"}')
    assert render_activation(APPLICATION_ERROR, {"error": "<p>failed</p>"}, "html").body == b"<p>failed</p>"
    assert render_activation(SUCCESS, {"body": "<p>ok</p>"}, "html").body == b"<p>ok</p>"


# --- .http ---------------------------------------------------------------------------------------


def test_http_result_without_body_is_204_without_content_type():
    response = render({"msg": "hi"}, "http")
    assert (response.status, response.body, response.content_type) == (204, b"", None)


def test_http_string_body_defaults_to_html_and_200():
    response = render({"body": "<p>hi</p>"}, "http")
    assert (response.status, response.body, response.content_type) == (200, b"<p>hi</p>", "text/html; charset=UTF-8")


def test_http_status_code_may_be_a_string():
    response = render({"statusCode": "302", "headers": {"Location": "/elsewhere"}}, "http")
    assert response.status == 302 and response.headers == [("Location", "/elsewhere")]


def test_http_header_arrays_repeat_the_header():
    response = render({"headers": {"Set-Cookie": ["a=1", "b=2"], "X-N": 3, "X-B": True}, "body": "ok"}, "http")
    assert response.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-N", "3"), ("X-B", "true")]


def test_http_binary_body_is_base64_decoded():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    result = {"headers": {"content-type": "image/png"}, "body": base64.b64encode(png).decode()}
    response = render(result, "http")
    assert (response.body, response.content_type) == (png, "image/png")
    assert response.headers == []


def test_http_object_body_is_json():
    response = render({"statusCode": 201, "body": {"created": True}}, "http")
    assert (response.status, response.body, response.content_type) == (201, b'{"created":true}', "application/json")


def test_http_legacy_base64_json_body_is_decoded_but_plain_json_text_is_kept():
    encoded = base64.b64encode(b'{"a":1}').decode()
    assert render({"headers": {"Content-Type": "application/json"}, "body": encoded}, "http").body == b'{"a":1}'
    assert render({"headers": {"Content-Type": "application/json"}, "body": "true"}, "http").body == b"true"


def test_http_text_body_in_declared_type():
    response = render({"headers": {"Content-Type": "text/plain"}, "body": "plain"}, "http")
    assert (response.body, response.content_type) == (b"plain", "text/plain; charset=UTF-8")


def test_http_empty_string_body_is_200_and_empty():
    response = render({"body": ""}, "http")
    assert (response.status, response.body, response.content_type) == (200, b"", None)


@pytest.mark.parametrize("result", [
    [1, 2],
    "text",
    {"statusCode": "abc"},
    {"statusCode": True},
    {"statusCode": 1000},
    {"headers": "x"},
    {"headers": {"X": {"nested": 1}}},
    {"headers": {"X": None}},
    {"headers": {"X": "a\r\nInjected: 1"}},
    {"headers": {"Bad Name": "x"}},
])
def test_http_invalid_results_are_400_not_valid_message_http(result):
    assert error_of(render, result, "http") == (400, "Response is not valid 'message/http'.")


def test_http_object_body_with_a_non_json_type_is_400():
    assert error_of(render, {"headers": {"Content-Type": "text/html"}, "body": {"a": 1}}, "http") == (
        400, "Response type in header did not match generated content type.")


def test_http_undecodable_binary_or_unparsable_type_is_400():
    unknown = (400, "Response did not specify a known content-type.")
    assert error_of(render, {"headers": {"Content-Type": "image/png"}, "body": "not base64!"}, "http") == unknown
    assert error_of(render, {"headers": {"Content-Type": "nonsense"}, "body": "x"}, "http") == unknown


# --- .json, .text, .html, .svg -------------------------------------------------------------------


def test_json_returns_the_whole_result():
    response = render({"a": [1, {"b": None}]}, "json")
    assert (response.status, response.body, response.content_type) == (200, b'{"a":[1,{"b":null}]}', "application/json")
    assert render([1, 2], "json").body == b"[1,2]"


def test_json_path_projects_a_field():
    assert render({"a": {"b": {"c": 1}}}, "json", "/a/b").body == b'{"c":1}'
    assert error_of(render, {"a": 1}, "json", "/missing") == (404, "Response does not include requested property.")


def test_json_of_a_scalar_is_400():
    assert error_of(render, "text", "json") == (400, "Response is not valid 'application/json'.")


def test_text_uses_body_then_text_then_the_value():
    assert render({"body": "from body", "text": "t"}, "text").body == b"from body"
    response = render({"text": "plain"}, "text")
    assert (response.body, response.content_type) == (b"plain", "text/plain; charset=UTF-8")
    assert render({"a": {"n": 1}}, "text", "/a/n").body == b"1"
    assert render({"a": {"n": [1]}}, "text", "/a").body == b'{\n  "n": [\n    1\n  ]\n}'


def test_text_without_a_field_is_404():
    assert error_of(render, {"other": 1}, "text") == (404, "Response does not include requested property.")


def test_html_uses_body_then_html_and_must_be_a_string():
    response = render({"html": "<h1>hi</h1>"}, "html")
    assert (response.status, response.body, response.content_type) == (200, b"<h1>hi</h1>", "text/html; charset=UTF-8")
    assert render({"body": "<b>b</b>", "html": "x"}, "html").body == b"<b>b</b>"
    assert error_of(render, {"html": 1}, "html") == (400, "Response is not valid 'text/html'.")


def test_svg_is_image_svg_xml():
    response = render({"svg": "<svg/>"}, "svg")
    assert (response.body, response.content_type) == (b"<svg/>", "image/svg+xml")
    assert error_of(render, {"svg": {"a": 1}}, "svg") == (400, "Response is not valid 'image/svg+xml'.")


def test_http_framing_and_hop_by_hop_headers_are_dropped_in_any_case_and_in_arrays():
    headers = {
        "Content-Length": "1", "TRANSFER-ENCODING": ["chunked", "gzip"], "connection": "Upgrade",
        "Keep-Alive": "timeout=5", "Upgrade": "websocket", "te": "trailers", "Trailer": "X",
        "Proxy-Authorization": "Basic x", "proxy-connection": "keep-alive", "X-Kept": ["1", "2"],
    }
    response = render({"headers": headers, "body": "ok"}, "http")
    assert response.headers == [("X-Kept", "1"), ("X-Kept", "2")]


def test_http_dropped_headers_must_still_be_valid():
    assert error_of(render, {"headers": {"Content-Length": {"nested": 1}}, "body": "ok"}, "http") == (
        400, "Response is not valid 'message/http'.")


@pytest.mark.parametrize("status", [100, 101, "101", 199, 600])
def test_http_status_outside_200_to_599_is_an_invalid_response(status):
    assert error_of(render, {"statusCode": status, "body": "x"}, "http") == (400, "Response is not valid 'message/http'.")


def test_a_legacy_base64_json_body_nested_past_the_bound_is_sent_as_text():
    deep = base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()
    response = render({"headers": {"Content-Type": "application/json"}, "body": deep}, "http")
    assert response.body == deep.encode()
