"""`/runtime/namespaces/{ns}/logForwarding[/errors]`: Adobe I/O Runtime's log-forwarding API."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.entities.auth import Authenticator, authorize
from gateway.entities.names import namespace_name
from gateway.logfwd.forwarder import LogForwarder
from gateway.logfwd.secrets import SecretError
from gateway.logfwd.settings import ForwardingSettings, InvalidSettings, render, settings_from_put
from gateway.wire.codec import decode, json_response, read_body
from gateway.wire.errors import ApiError
from gateway.wire.logforwarding import LogForwarding, LogForwardingErrors
from gateway.wire.models import Identity

MAX_BODY_BYTES = 65536
_decoder = msgspec.json.Decoder(LogForwarding)


def _namespace(identity: Identity, segment: str) -> str:
    """`_` and aio's literal `undefined` (no namespace configured) are the caller's own; others are 403."""
    if segment in ("_", "undefined"):
        return identity.namespace
    namespace = namespace_name(segment)
    authorize(identity, namespace, namespace)
    return namespace


async def _settings(forwarder: LogForwarder, namespace: str) -> ForwardingSettings:
    try:
        return await forwarder.settings(namespace)
    except SecretError as error:
        raise ApiError(500, str(error)) from None


def routes(forwarder: LogForwarder, authenticate: Authenticator) -> list[Route]:
    async def get_settings(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = _namespace(identity, request.path_params["ns"])
        return json_response(render(await _settings(forwarder, namespace)))

    async def put_settings(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = _namespace(identity, request.path_params["ns"])
        body = decode(await read_body(request, MAX_BODY_BYTES), _decoder)
        try:
            settings = settings_from_put(body, namespace, forwarder.now_ms(), forwarder.policy)
        except InvalidSettings as invalid:
            raise ApiError(400, str(invalid)) from None
        await forwarder.configure(settings)
        return json_response(render(settings))

    async def get_errors(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = _namespace(identity, request.path_params["ns"])
        settings = await _settings(forwarder, namespace)
        return json_response(LogForwardingErrors(settings.destination.value, forwarder.errors(namespace)))

    return [
        Route("/runtime/namespaces/{ns}/logForwarding", get_settings, methods=["GET"]),
        Route("/runtime/namespaces/{ns}/logForwarding", put_settings, methods=["PUT"]),
        Route("/runtime/namespaces/{ns}/logForwarding/errors", get_errors, methods=["GET"]),
    ]
