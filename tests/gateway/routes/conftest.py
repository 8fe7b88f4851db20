"""The API tests' app (real SqliteStore, FakeController) for route management and serving over ASGI."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from gateway.app import Services, build_app
from gateway.invoke.controller import Invocation
from gateway.invoke.records import Ended
from gateway.wire.models import ActivationRecord, ActivationResponse
from pool import ActivationStatus
from tests.gateway.api.conftest import GUEST, OTHER, FakeController, client, config, controller, store  # noqa: F401

APIMGMT = "/api/v1/web/whisk.system/apimgmt"
ACTIONS = "/api/v1/namespaces/_/actions"
ACTIVATION_ID = "c7bb1339cb4f40e3a6ccead6c99f804e"
CODE = {"kind": "nodejs:default", "code": "function main(p) { return {} }"}


@pytest.fixture
async def anonymous(store, controller, config):
    """A client without credentials, as a browser calls a managed URL."""
    app = build_app(Services(config=config, store=store, controller=controller))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whisklet") as anonymous:
        yield anonymous


@pytest.fixture
async def other(store, controller, config):
    app = build_app(Services(config=config, store=store, controller=controller))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://whisklet",
                                 auth=OTHER) as other:
        yield other


async def web_action(client: httpx.AsyncClient, name: str, web: bool = True) -> None:
    notes = [{"key": "web-export", "value": web}]
    response = await client.put(f"{ACTIONS}/{name}", json={"exec": CODE, "annotations": notes})
    assert response.status_code == 200, response.text


def succeed(controller: FakeController, result: Any) -> None:
    record = ActivationRecord(
        namespace="guest", name="page", version="0.0.1", subject="guest", activationId=ACTIVATION_ID,
        start=1000, end=1052, duration=52,
        response=ActivationResponse(status="success", success=True, result=msgspec.Raw(msgspec.json.encode(result))),
    )
    controller.outcome = Invocation(ACTIVATION_ID, Ended(record, ActivationStatus.SUCCESS, "nodejs:20", 256, 0))


def endpoint(base: str, path: str, verb: str, action: str, *, namespace: str = "_", name: str | None = None,
             **extra: Any) -> dict[str, Any]:
    """The body `wsk api create` sends (routes-and-log-forwarding.md §3.1)."""
    package, _, short = action.rpartition("/")
    apidoc: dict[str, Any] = {
        "namespace": namespace, "gatewayBasePath": base, "gatewayPath": path, "gatewayMethod": verb,
        "id": f"API:{namespace}:{base}",
        "action": {"name": action, "namespace": namespace, "backendMethod": verb,
                   "backendUrl": f"http://whisklet/api/v1/web/{namespace}/{package or 'default'}/{short}.http",
                   "authkey": ":".join(GUEST)},
        **extra,
    }
    if name is not None:
        apidoc["apiName"] = name
    return {"apidoc": apidoc}
