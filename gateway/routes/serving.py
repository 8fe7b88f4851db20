"""Managed API URLs served: `/api/{namespace-or-uuid}/{basePath}/{path}` (and `/apis/...`), §8.

A request finds its namespace's route (`table.find_route`) and runs the route's web action through
the web actions' own entry point, with the route's method, added headers and path: it costs one
cached read of the namespace's APIs more than calling the web action directly.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable
from typing import Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.routes.paths import segments
from gateway.routes.table import CompiledApis, find_route
from gateway.store import Store
from gateway.web.request import CORS_METHODS, WebTarget, cors_headers
from gateway.wire.codec import json_response

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
FORWARDED_URL_HEADER = "X-Forwarded-Url"


class WebEntry(Protocol):
    """The web actions' entry point (`gateway/api/web.py`): run `target` for `request`, with the
    method and the added request headers a route says."""

    def __call__(
        self, request: Request, target: WebTarget, method: str | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> Awaitable[Response]: ...


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API gateway's own error body, as Apache's gateway sends it."""
    return json_response({"status": status, "message": f"Error: {message}"}, status, headers)


def serving_routes(store: Store, compiled: CompiledApis, web: WebEntry) -> list[Route]:
    async def managed(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        subject = await store.get_subject(tenant)
        if subject is None and _UUID.fullmatch(tenant):  # OpenWhisk's URLs name the key's uuid
            subject = await store.get_subject_by_uuid(tenant)
        if subject is None:
            raise HTTPException(404)  # no such namespace: an unknown route, as for any other URL
        rest = request.path_params.get("rest", "")
        apis = [compiled.get(api) for api in await store.list_apis(subject.namespace)]
        match = find_route(apis, segments(rest))
        if match is None:
            return gateway_error(404, "Not found.")
        verb = request.method.lower()
        if verb == "options" and match.api.cors:
            return Response(status_code=200, headers=dict(cors_headers(request.headers)))
        if verb not in match.resource.operations:
            allowed = ", ".join(sorted(verb.upper() for verb in match.resource.operations))
            return gateway_error(405, "Whoops. Verb not supported.", {"Allow": allowed or CORS_METHODS})
        target = match.resource.operations[verb]
        if target is None or target.web.namespace != subject.namespace:
            return gateway_error(404, "Not found.")
        path = f"/{rest}" if target.request_path else target.web.path + match.remainder
        query = request.scope["query_string"].decode("latin-1")
        forwarded = str(request.base_url).rstrip("/") + request.scope.get("raw_path", b"").decode("latin-1") + (
            f"?{query}" if query else "")
        headers = (*target.headers, (FORWARDED_URL_HEADER, forwarded))
        response = await web(request, dataclasses.replace(target.web, path=path), target.verb, headers)
        if not match.api.cors:  # the API turned CORS off: the gateway removes the action's CORS headers
            response.raw_headers[:] = [(name, value) for name, value in response.raw_headers
                                       if not name.lower().startswith(b"access-control-")]
        return response

    return [
        ManagedRoute(f"/{prefix}/{{tenant}}{rest}", managed, methods=METHODS)
        for prefix in ("api", "apis")
        for rest in ("", "/{rest:path}")
    ]


class ManagedRoute(Route):
    """A managed-URL route that never matches `/api/v1/...`: that is the REST API, whose own routes
    answer (or 404 / 405) it. A namespace named `v1` is served under `/apis/v1/...` only."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match != Match.NONE and self.path.startswith("/api/") and child["path_params"].get("tenant") == "v1":
            return Match.NONE, {}
        return match, child
