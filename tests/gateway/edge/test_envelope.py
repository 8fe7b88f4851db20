from __future__ import annotations

import logging
import re

import httpx
import pytest

from gateway.app import Services, build_app
from gateway.config import Config
from gateway.invoke.controller import Controller
from gateway.store import StoreError

CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, DELETE, POST, PUT, HEAD",
    "access-control-allow-headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
}
AUTH = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "k" * 64)


class FailingStore:
    """A store whose subject lookup raises `failure`; nothing else is reached by these tests."""

    def __init__(self) -> None:
        self.failure: Exception | None = None

    async def get_subject_by_uuid(self, uuid: str):
        if self.failure is not None:
            raise self.failure
        return None


class NoController(Controller):
    def __init__(self) -> None:
        pass


@pytest.fixture
def store() -> FailingStore:
    return FailingStore()


@pytest.fixture
async def client(store):
    app = build_app(Services(config=Config(), store=store, controller=NoController()))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whisklet") as client:
        yield client


def has_cors(response: httpx.Response) -> bool:
    return all(response.headers.get(name) == value for name, value in CORS.items())


@pytest.mark.parametrize("path", ["/", "/ping", "/api/v1", "/api/v1/namespaces", "/nowhere"])
async def test_every_response_carries_a_generated_request_id(client, path):
    response = await client.get(path)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_request_ids_differ_between_requests(client):
    first, second = await client.get("/ping"), await client.get("/ping")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_incoming_request_id_is_reused_and_named_in_error_bodies(client):
    response = await client.get("/api/v1/namespaces", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["code"] == "abc-123"


async def test_incoming_system_request_id_is_replaced(client):
    response = await client.get("/ping", headers={"x-request-id": "sid_invoker"})
    assert not response.headers["x-request-id"].startswith("sid_")


async def test_rest_responses_carry_cors_headers_even_on_errors(client):
    assert has_cors(await client.get("/api/v1"))
    assert has_cors(await client.get("/api/v1/namespaces"))  # 401
    assert has_cors(await client.get("/api/v1/nowhere"))  # 404


@pytest.mark.parametrize("path", ["/", "/ping", "/api/v1/web/guest/default/hello"])
async def test_non_rest_responses_have_no_cors_headers(client, path):
    response = await client.get(path)
    assert "access-control-allow-origin" not in response.headers


async def test_options_under_api_v1_is_200_empty_with_cors_and_no_auth(client):
    response = await client.options("/api/v1/namespaces/_/actions/hello")
    assert response.status_code == 200
    assert response.content == b""
    assert has_cors(response)
    assert "x-request-id" in response.headers


async def test_unknown_route_is_404_in_the_error_envelope(client):
    response = await client.get("/api/v1/namespaces/_/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "The requested resource could not be found.",
        "code": response.headers["x-request-id"],
    }


async def test_wrong_method_is_405_in_the_error_envelope(client):
    response = await client.patch("/api/v1/namespaces/_/actions/hello")
    assert response.status_code == 405
    assert set(response.json()) == {"error", "code"}


async def test_unexpected_exception_is_500_naming_the_request_id_and_is_logged(client, store, caplog):
    store.failure = RuntimeError("disk on fire")
    with caplog.at_level(logging.ERROR, logger="whisklet.gateway"):
        response = await client.get("/api/v1/namespaces", auth=AUTH, headers={"x-request-id": "tid-500"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "An internal error occurred. The request id is tid-500; see the server log.",
        "code": "tid-500",
    }
    [entry] = [r for r in caplog.records if r.name == "whisklet.gateway"]
    assert "tid-500" in entry.getMessage()
    assert entry.exc_info is not None and "disk on fire" in str(entry.exc_info[1])


async def test_store_failure_is_503_with_its_message(client, store):
    store.failure = StoreError("reading a namespace: the database is locked; retry later")
    response = await client.get("/api/v1/namespaces", auth=AUTH)
    assert response.status_code == 503
    assert response.json()["error"] == "reading a namespace: the database is locked; retry later"
