"""`/api/v1/web/...` over ASGI with a real store and the FakeController: lookup, auth, CORS, limits, outcomes."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from gateway.app import Services, build_app
from gateway.invoke.controller import Invocation
from gateway.invoke.records import Ended
from gateway.wire.errors import too_many_per_minute
from gateway.wire.models import ActivationRecord, ActivationResponse
from pool import ActivationStatus

ACTIONS = "/api/v1/namespaces/_/actions"
WEB = "/api/v1/web/guest/default"
ACTIVATION_ID = "c7bb1339cb4f40e3a6ccead6c99f804e"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return {} }"}


def record(status: str = "success", result: object = None) -> ActivationRecord:
    return ActivationRecord(
        namespace="guest", name="page", version="0.0.1", subject="guest", activationId=ACTIVATION_ID,
        start=1000, end=1052, duration=52,
        response=ActivationResponse(status=status, success=status == "success",
                                    result=msgspec.Raw(msgspec.json.encode(result))),
    )


def ended(status: str = "success", result: object = None) -> Ended:
    """The ended activation a blocking invoke hands back, with `record(status, result)` as its record."""
    typed = next(s for s in ActivationStatus if s.text == status)
    return Ended(record(status, result), typed, "nodejs:20", 256, wait_ms=0)


@pytest.fixture
async def anonymous(store, controller, config):
    """A client without credentials (how browsers call web actions) of an app on the same services."""
    app = build_app(Services(config=config, store=store, controller=controller))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whisklet") as anonymous:
        yield anonymous


async def web_action(client, name: str, **annotations: object) -> None:
    notes = [{"key": "web-export", "value": True}, *({"key": k, "value": v} for k, v in annotations.items())]
    response = await client.put(f"{ACTIONS}/{name}", json={"exec": CODE, "annotations": notes})
    assert response.status_code == 200, response.text


def succeed(controller, result: object) -> None:
    controller.outcome = Invocation(ACTIVATION_ID, ended(result=result))


async def test_web_action_runs_as_its_owner_with_the_request_as_input(client, anonymous, controller):
    await web_action(client, "page")
    succeed(controller, {"body": "<p>hi</p>"})
    response = await anonymous.post(f"{WEB}/page/some/path?name=Jane", json={"n": 1})
    assert response.status_code == 200
    assert response.text == "<p>hi</p>"
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert response.headers["x-openwhisk-activation-id"] == ACTIVATION_ID
    call = controller.calls[0]
    assert call["identity"].namespace == "guest" and call["blocking"] is True
    payload = call["payload"]
    assert (payload["name"], payload["n"], payload["__ow_method"], payload["__ow_path"]) == ("Jane", 1, "post", "/some/path")
    assert "__ow_user" not in payload


async def test_authenticated_caller_is_ow_user_but_the_owner_is_charged(client, anonymous, controller, other_auth):
    await web_action(client, "page")
    succeed(controller, {"a": 1})
    response = await anonymous.get(f"{WEB}/page.json", auth=other_auth)
    assert response.json() == {"a": 1}
    call = controller.calls[0]
    assert call["payload"]["__ow_user"] == "other"
    assert call["identity"].namespace == "guest" and call["admission"].namespace == "guest"


@pytest.mark.parametrize("path", [
    "/api/v1/web/guest/default/missing",
    "/api/v1/web/_/default/page",
    "/api/v1/web/nobody/default/page",
    "/api/v1/web/guest/nopackage/page",
])
async def test_missing_actions_namespaces_and_packages_are_404(client, anonymous, controller, path):
    await web_action(client, "page")
    response = await anonymous.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "The requested resource does not exist."
    assert controller.calls == []


async def test_action_without_web_export_is_404(client, anonymous, controller):
    response = await client.put(f"{ACTIONS}/private", json={"exec": CODE})
    assert response.status_code == 200
    assert (await anonymous.get(f"{WEB}/private.json")).status_code == 404
    assert controller.calls == []
    assert all(admission.released for admission in controller.admitted)


async def test_options_is_answered_with_cors_without_running_the_action(client, anonymous, controller):
    await web_action(client, "page")
    response = await anonymous.options(f"{WEB}/page", headers={"Access-Control-Request-Headers": "X-Custom"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
    assert response.headers["access-control-allow-headers"] == "X-Custom"
    assert controller.calls == [] and all(admission.released for admission in controller.admitted)


async def test_web_responses_carry_web_cors_headers_not_the_rest_ones(client, anonymous, controller):
    await web_action(client, "page")
    succeed(controller, {"a": 1})
    response = await anonymous.get(f"{WEB}/page.json")
    assert response.headers["access-control-allow-methods"] == "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
    assert response.headers.get_list("access-control-allow-origin") == ["*"]


async def test_custom_options_runs_the_action_and_adds_no_cors(client, anonymous, controller):
    await web_action(client, "page", **{"web-custom-options": True, "require-whisk-auth": True})
    succeed(controller, {"statusCode": 200, "headers": {"Allow": "GET"}})
    response = await anonymous.options(f"{WEB}/page")
    assert response.status_code == 200 and response.headers["allow"] == "GET"
    assert "access-control-allow-origin" not in response.headers
    assert controller.calls[0]["payload"]["__ow_method"] == "options"


async def test_require_whisk_auth_true_refuses_anonymous_and_invalid_credentials(client, anonymous, controller):
    await web_action(client, "secure", **{"require-whisk-auth": True})
    succeed(controller, {"ok": True})
    for auth in (None, ("6b3e8a1c-0d2f-4c55-9a7e-2f1d3c4b5a69", "y" * 64)):
        response = await anonymous.get(f"{WEB}/secure.json", auth=auth)
        assert response.status_code == 401
        assert response.json()["error"] == "Authentication is possible but has failed or not yet been provided."
        assert response.headers["access-control-allow-origin"] == "*"
    assert controller.calls == [] and all(admission.released for admission in controller.admitted)
    assert (await client.get(f"{WEB}/secure.json")).json() == {"ok": True}


async def test_require_whisk_auth_secret_is_matched_against_the_header(client, anonymous, controller):
    await web_action(client, "secret", **{"require-whisk-auth": "s3cret"})
    succeed(controller, {"ok": True})
    refused = await client.get(f"{WEB}/secret.json", headers={"X-Require-Whisk-Auth": "wrong"})
    assert refused.status_code == 401
    allowed = await anonymous.get(f"{WEB}/secret.json", headers={"X-Require-Whisk-Auth": "s3cret"})
    assert allowed.status_code == 200


async def test_body_over_the_payload_limit_is_413(client, anonymous, controller, config):
    await web_action(client, "page")
    limit = config.limits.payload_max_bytes
    response = await anonymous.post(f"{WEB}/page", content=b"x" * (limit + 1), headers={"Content-Type": "text/plain"})
    assert response.status_code == 413
    assert response.json()["error"] == f"Request larger than allowed: {limit + 1} > {limit} bytes."
    assert controller.calls == [] and all(admission.released for admission in controller.admitted)


async def test_reserved_name_in_the_query_is_400(client, anonymous, controller):
    await web_action(client, "page")
    response = await anonymous.get(f"{WEB}/page?__ow_user=admin")
    assert response.status_code == 400
    assert response.json()["error"] == "Request defines parameters that are not allowed (e.g., reserved properties)."
    assert controller.calls == []


async def test_throttled_owner_is_429(client, anonymous, controller):
    await web_action(client, "page")
    controller.throttle = too_many_per_minute(61, 60)
    response = await anonymous.get(f"{WEB}/page")
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests in the last minute (count: 61, allowed: 60)."


async def test_no_result_within_the_wait_is_202_response_not_yet_ready(client, anonymous, controller):
    await web_action(client, "page")
    controller.outcome = Invocation(ACTIVATION_ID, None)
    response = await anonymous.get(f"{WEB}/page")
    assert response.status_code == 202
    assert response.json()["error"] == "Response not yet ready."
    assert response.headers["x-openwhisk-activation-id"] == ACTIVATION_ID


@pytest.mark.parametrize("status", ["action developer error", "whisk internal error"])
async def test_developer_and_internal_errors_are_400(client, anonymous, controller, status):
    await web_action(client, "page")
    controller.outcome = Invocation(ACTIVATION_ID, ended(status, {"error": "boom"}))
    response = await anonymous.get(f"{WEB}/page.json")
    assert response.status_code == 400
    assert response.json()["error"] == "There was an error processing your request."


async def test_application_error_is_unwrapped_and_rendered(client, anonymous, controller):
    await web_action(client, "page")
    controller.outcome = Invocation(ACTIVATION_ID, ended("application error", {"error": {"statusCode": 404, "body": "nope"}}))
    response = await anonymous.get(f"{WEB}/page")
    assert (response.status_code, response.text) == (404, "nope")


async def test_raw_action_gets_the_query_string_and_body_unparsed(client, anonymous, controller):
    await web_action(client, "raw", **{"raw-http": True})
    succeed(controller, {"body": "ok"})
    await anonymous.post(f"{WEB}/raw?a=1&b=2", content=b"plain text", headers={"Content-Type": "text/plain"})
    payload = controller.calls[0]["payload"]
    assert (payload["__ow_query"], payload["__ow_body"]) == ("a=1&b=2", "plain text")
    assert "a" not in payload


async def test_action_in_a_package_is_reached_by_its_package_name(client, anonymous, controller):
    assert (await client.put("/api/v1/namespaces/_/packages/site", json={})).status_code == 200
    notes = [{"key": "web-export", "value": True}]
    assert (await client.put(f"{ACTIONS}/site/home", json={"exec": CODE, "annotations": notes})).status_code == 200
    succeed(controller, {"html": "<h1>home</h1>"})
    response = await anonymous.get("/api/v1/web/guest/site/home.html")
    assert (response.status_code, response.text) == (200, "<h1>home</h1>")
    assert controller.calls[0]["action"].namespace == "guest/site"
