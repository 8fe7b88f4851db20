"""The OpenAPI document: current, complete, and served."""

from __future__ import annotations

import json
import re

import httpx
from starlette.routing import Route

from gateway.app import Services, build_app
from gateway.config import Config, LogForwardingConfig
from gateway.logfwd.forwarder import LogForwarder
from gateway.logfwd.network import EgressPolicy
from gateway.logfwd.secrets import SecretBox
from gateway.wire.openapi import DOCUMENT_FILE, main


def test_the_committed_document_is_what_the_structs_generate():
    assert main(["--check"]) == 0, "run: python -m gateway.wire.openapi"


def documented() -> set[tuple[str, str]]:
    paths = json.loads(DOCUMENT_FILE.read_bytes())["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}


def routed(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        assert isinstance(route, Route)
        if route.path == "/console" or route.path.startswith("/console/"):
            continue  # the web console's pages and files: a user interface, not operations of the API
        path = re.sub(r"\{rest:path\}", "{action}", route.path)
        web = path.startswith("/api/v1/web/")
        for method in route.methods or ():
            if method != "HEAD" or web:
                found.add((method, path))
        if web:
            found.add(("OPTIONS", path))
    return found


async def test_every_route_is_documented_and_every_documented_operation_is_routed(store, controller):
    async with httpx.AsyncClient() as client:
        forwarder = LogForwarder(store, SecretBox(bytes(32)), EgressPolicy(), LogForwardingConfig(), client,
                                 host_name="test", now_ms=lambda: 0)
        app = build_app(Services(config=Config(), store=store, controller=controller, log_forwarder=forwarder))
        assert routed(app) == documented()


async def test_the_document_is_served_without_authentication(client):
    response = await client.get("/api/v1/api-docs", auth=None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["openapi"].startswith("3.1")
    assert response.content == DOCUMENT_FILE.read_bytes()
