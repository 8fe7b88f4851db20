from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from msgspec import UNSET
from starlette.requests import Request

from gateway.app import Services, build_app
from gateway.config import Config
from gateway.entities.auth import Authenticator, authorize, resolve_namespace
from gateway.invoke.controller import Controller
from gateway.store import SqliteStore
from gateway.wire.errors import ApiError

UUID = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
KEY = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
REALM = 'Basic realm="OpenWhisk secure realm"'
MISSING = "The resource requires authentication, which was not supplied with the request"
INVALID = "The supplied authentication is invalid"


@pytest.fixture
async def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db")
    await store.open()
    await store.create_subject("guest", UUID, KEY, limits=b'{"concurrentInvocations":5}')
    yield store
    await store.close()


class NoController(Controller):
    """These tests never reach the controller."""

    def __init__(self) -> None:
        pass


@pytest.fixture
async def client(store):
    app = build_app(Services(config=Config(), store=store, controller=NoController()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whisklet") as client:
        yield client


def basic(text: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(text.encode()).decode()}


def request_with(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})


async def test_valid_credentials_resolve_to_the_namespaces_identity(store):
    identity = await Authenticator(store)(request_with(basic(f"{UUID}:{KEY}")))
    assert (identity.namespace, identity.subject, identity.uuid) == ("guest", "guest", UUID)
    assert identity.authkey == f"{UUID}:{KEY}"
    assert identity.limits.concurrentInvocations == 5
    assert identity.limits.invocationsPerMinute is UNSET


async def test_request_with_valid_credentials_is_served(client):
    response = await client.get("/api/v1/namespaces", auth=(UUID, KEY))
    assert (response.status_code, response.json()) == (200, ["guest"])


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer abc"}, {"authorization": "Basic "}])
async def test_missing_credentials_are_401_with_the_missing_message(client, headers):
    response = await client.get("/api/v1/namespaces", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": MISSING, "code": response.headers["x-request-id"]}
    assert response.headers["www-authenticate"] == REALM


@pytest.mark.parametrize(
    "headers",
    [
        basic(f"{UUID}:{'y' * 64}"),
        basic(f"00000000-0000-0000-0000-000000000000:{KEY}"),
        basic(f"{UUID}{KEY}"),
        basic(f"{UUID}:"),
        {"authorization": "Basic not*base64"},
    ],
    ids=["wrong key", "unknown uuid", "no colon", "empty key", "not base64"],
)
async def test_wrong_credentials_are_401_with_the_invalid_message(client, headers):
    response = await client.get("/api/v1/namespaces", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == INVALID
    assert response.headers["www-authenticate"] == REALM


async def test_a_deleted_namespace_cannot_authenticate_any_more(client, store):
    assert (await client.get("/api/v1/namespaces", auth=(UUID, KEY))).status_code == 200
    await store.delete_subject("guest")
    response = await client.get("/api/v1/namespaces", auth=(UUID, KEY))
    assert (response.status_code, response.json()["error"]) == (401, INVALID)


async def test_underscore_is_the_callers_own_namespace(store):
    identity = await Authenticator(store)(request_with(basic(f"{UUID}:{KEY}")))
    assert resolve_namespace(identity, "_") == "guest"
    assert resolve_namespace(identity, "whisk.system") == "whisk.system"
    with pytest.raises(ApiError) as caught:
        resolve_namespace(identity, "bad/ns?")
    assert (caught.value.status, caught.value.message) == (400, "The namespace contains illegal characters.")


async def test_acting_in_a_foreign_namespace_is_403_naming_the_resource(store):
    identity = await Authenticator(store)(request_with(basic(f"{UUID}:{KEY}")))
    authorize(identity, "guest", "guest/hello")
    with pytest.raises(ApiError) as caught:
        authorize(identity, "other", "other/pkg/hello")
    assert (caught.value.status, caught.value.message) == (
        403, "The supplied authentication is not authorized to access 'other/pkg/hello'.",
    )


async def test_unauthenticated_routes_need_no_credentials(client):
    for path in ("/", "/ping", "/api/v1"):
        assert (await client.get(path)).status_code == 200
