"""`/api/v1/web/whisk.system/apimgmt/{createApi,getApi,deleteApi}[.ext]`: the route-management web actions.

Built in, answered as OpenWhisk's Node.js actions answer through `.http` (§2): 200 with the result,
502 `{"error": message}` (no `code`) on failure; any extension is taken as `.http`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.entities.auth import Authenticator
from gateway.routes.management import Caller, RouteFailure, RouteManagement
from gateway.web.request import RESERVED, cors_headers
from gateway.wire.codec import decode_object, json_response, read_raw_body
from gateway.wire.errors import RESERVED_PARAMETERS, ApiError

PACKAGE_PATH = "/api/v1/web/whisk.system/apimgmt"
ACTIONS = ("createApi", "getApi", "deleteApi")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ABSENT = ("", "undefined")
"""Values that mean "not given": aio sends `relpath=undefined` for every option left out (§2.2)."""


def management_routes(
    management: RouteManagement, authenticate: Authenticator, payload_max_bytes: int, public_base: str
) -> list[Route]:
    operations: dict[str, Callable[[dict[str, Any], Caller], Awaitable[dict[str, Any]]]] = {
        "createApi": management.create, "getApi": management.get, "deleteApi": management.delete,
    }

    async def apimgmt(request: Request) -> Response:
        name = request.path_params["action"].partition(".")[0]
        operation = operations.get(name)
        if operation is None:
            raise ApiError(404, "The requested resource does not exist.")
        if request.method == "OPTIONS":  # as any web action without `web-custom-options`: CORS, nothing run
            return Response(status_code=200, headers=dict(cors_headers(request.headers)))
        params = await _parameters(request, payload_max_bytes)
        caller = Caller(await _namespace(request, authenticate), public_base or str(request.base_url).rstrip("/"))
        try:
            return json_response(await operation(params, caller))
        except RouteFailure as failure:
            return json_response({"error": str(failure)}, 502)

    return [Route(PACKAGE_PATH + "/{action}", apimgmt, methods=METHODS)]


async def _namespace(request: Request, authenticate: Authenticator) -> str | None:
    """The caller's namespace from valid credentials; none or invalid ones make the call anonymous."""
    if "authorization" not in request.headers:
        return None
    try:
        return (await authenticate(request)).namespace
    except ApiError as error:
        if error.status == 401:
            return None
        raise


async def _parameters(request: Request, payload_max_bytes: int) -> dict[str, Any]:
    """Query and JSON body merged (the body wins), absent-looking values dropped; 400 for `__ow_*`."""
    params: dict[str, Any] = dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))
    body = await read_raw_body(request, payload_max_bytes)
    if body.strip():
        params.update(decode_object(body))
    if RESERVED.intersection(params):
        raise ApiError(400, RESERVED_PARAMETERS)
    return {key: value for key, value in params.items() if not (isinstance(value, str) and value in ABSENT)}
