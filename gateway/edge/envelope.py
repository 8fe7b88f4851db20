"""The request envelope: request id, REST CORS headers, preflight answers and `{"error","code"}` bodies."""

from __future__ import annotations

import logging
import re
import secrets

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.store import StoreError
from gateway.wire.codec import request_id
from gateway.wire.errors import METHOD_NOT_ALLOWED, ROUTE_NOT_FOUND, ApiError, internal_error
from gateway.wire.models import ErrorBody, encoder

log = logging.getLogger("whisklet.gateway")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")

CORS_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, DELETE, POST, PUT, HEAD"),
    (b"access-control-allow-headers", b"Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"),
)


def error_response(status: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> Response:
    """The one place an error body is built."""
    body = encoder.encode(ErrorBody(error=message, code=request_id))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own rejections (unknown route, wrong method) in OpenWhisk's error envelope."""
    assert isinstance(exc, HTTPException)
    message = {404: ROUTE_NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(exc.status_code, exc.detail)
    headers = None if exc.headers is None else dict(exc.headers)
    return error_response(exc.status_code, message, request_id(request), headers)


def is_rest(path: str) -> bool:
    """Whether `path` is under the REST API (`/api/v1`) and not a web action."""
    if path != "/api/v1" and not path.startswith("/api/v1/"):
        return False
    return path != "/api/v1/web" and not path.startswith("/api/v1/web/")


class RequestEnvelope:
    """Pure-ASGI middleware around every HTTP request.

    1. The request id is the incoming `X-Request-ID` unless absent, starting with `sid_`, or not 1 to
       64 letters, digits and `-_.:` (it is repeated in headers, bodies and logs), else a new one; it is
       put in `scope["state"]["request_id"]` and sent back as `X-Request-ID` on every response.
    2. REST API responses (`/api/v1`, not `/api/v1/web`) carry the CORS headers; `OPTIONS` there is
       answered 200, empty, without authentication.
    3. An `ApiError` becomes its error body and a `StoreError` a 503 with its message; any other
       exception is logged with its traceback and becomes a 500 naming the request id. If the response
       had already started, the exception is re-raised. A client gone mid-request gets no answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_request_id(scope) or secrets.token_hex(16)
        scope["state"] = {**scope.get("state", {}), "request_id": rid}
        extra = [(b"x-request-id", rid.encode("latin-1"))]
        if is_rest(scope["path"]):
            extra.extend(CORS_HEADERS)
            if scope["method"] == "OPTIONS":
                await _send_headers(Response(status_code=200), extra)(scope, receive, send)
                return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ApiError as error:
            if started:
                raise
            await error_response(error.status, error.message, rid, error.headers)(scope, receive, send_with_headers)
        except StoreError as error:
            log.error("request %s %s: %s (request id %s)", scope["method"], scope["path"], error, rid)
            if started:
                raise
            await error_response(503, str(error), rid)(scope, receive, send_with_headers)
        except ClientDisconnect:  # gone mid-body (or cut off for being too slow): no one to answer
            log.info("request %s %s: the client went away (request id %s)", scope["method"], scope["path"], rid)
        except Exception:
            log.exception("request %s %s failed (request id %s)", scope["method"], scope["path"], rid)
            if started:
                raise
            await error_response(500, internal_error(rid), rid)(scope, receive, send_with_headers)


def _incoming_request_id(scope: Scope) -> str | None:
    """The client's `X-Request-ID`, if it is one Whisklet may repeat: it goes into response headers,
    error bodies and log lines, so anything but 1 to 64 letters, digits and `-_.:` is replaced."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            sent = bytes(value)
            if not _REQUEST_ID.fullmatch(sent) or sent.startswith(b"sid_"):
                return None
            return sent.decode("ascii")
    return None


def _send_headers(response: Response, headers: list[tuple[bytes, bytes]]) -> Response:
    response.raw_headers.extend(headers)
    return response
