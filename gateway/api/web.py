"""`/api/v1/web/{ns}/{pkg}/{action}[.ext][/path]`: web actions, public HTTP endpoints served by actions."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import Config
from gateway.entities.auth import Authenticator, identity_of
from gateway.entities.resolve import ResolvedAction, resolve_action
from gateway.invoke.controller import Controller
from gateway.routes.serving import WebEntry
from gateway.store import Store
from gateway.web.request import (
    REQUIRE_AUTH_HEADER,
    WebRequest,
    WebTarget,
    action_input,
    cors_headers,
    has_custom_options,
    is_raw,
    is_web_action,
    parse_target,
    whisk_auth_satisfied,
)
from gateway.web.response import WebResponse, render_activation
from gateway.wire.codec import read_raw_body, request_id
from gateway.wire.errors import NOT_FOUND, RESPONSE_NOT_READY, WEB_AUTH_FAILED, WEB_PROCESSING_ERROR, ApiError
from gateway.wire.jsonbody import any_decoder
from gateway.wire.models import Identity

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def routes(
    config: Config, store: Store, controller: Controller, authenticate: Authenticator
) -> tuple[list[Route], WebEntry]:
    """The web-action route, and its entry point for API routes (`gateway/routes/`)."""
    bounds = config.limits

    async def caller(request: Request) -> Identity | None:
        """Who sent valid OpenWhisk credentials, if anyone: invalid ones count as none."""
        if "authorization" not in request.headers:
            return None
        try:
            return await authenticate(request)
        except ApiError as error:
            if error.status == 401:
                return None
            raise

    async def exported(target: WebTarget) -> ResolvedAction:
        """The web-exported action `target` names; 404 for anything else."""
        try:
            resolved = await resolve_action(store, target.namespace, target.package, target.action)
        except ApiError as error:
            if error.status in (404, 409):
                raise ApiError(404, NOT_FOUND) from None
            raise
        if not is_web_action(resolved.action):
            raise ApiError(404, NOT_FOUND)
        return resolved

    async def web_action(request: Request) -> Response:
        params = request.path_params
        return await serve(request, parse_target(params["ns"], params["pkg"], params["rest"]))

    async def serve(
        request: Request, target: WebTarget, method: str | None = None, extra_headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        """Run the web action `target` for `request`; an API route (`gateway/routes/`) passes the
        method and added headers its operation says."""
        method = method or request.method
        subject = await store.get_subject(target.namespace)
        if subject is None:
            raise ApiError(404, NOT_FOUND)
        owner = identity_of(subject, "")  # the owner's key is stored hashed: no api_key for web activations
        cors: list[tuple[str, str]] = []
        with controller.admit(owner) as admission:
            try:
                resolved = await exported(target)
                action = resolved.action
                if not has_custom_options(action):
                    cors = cors_headers(request.headers)
                    if method == "OPTIONS":
                        return _response(WebResponse(200, []), cors)
                user = await caller(request)
                secret = next((value for name, value in extra_headers if name.lower() == REQUIRE_AUTH_HEADER),
                              request.headers.get(REQUIRE_AUTH_HEADER))
                if method != "OPTIONS" and not whisk_auth_satisfied(action, user is not None, secret):
                    raise ApiError(401, WEB_AUTH_FAILED)
                body = await read_raw_body(request, bounds.payload_max_bytes)
                web_request = WebRequest(
                    method=method,
                    headers=[
                        *((name.decode("latin-1"), value.decode("latin-1")) for name, value in request.scope["headers"]),
                        *extra_headers,
                    ],
                    query_string=request.scope["query_string"].decode("latin-1"),
                    body=body,
                    path=target.path,
                    user=None if user is None else user.namespace,
                )
                payload = action_input(web_request, raw=is_raw(action))
                invocation = await controller.invoke(
                    owner,
                    action,
                    payload,
                    admission=admission,
                    blocking=True,
                    wait_ms=bounds.blocking_wait_max_ms,
                    transaction_id=request_id(request),
                    binding=resolved.binding,
                )
            except ApiError as error:
                raise _with_headers(error, cors) from None
        headers = [*cors, ("x-openwhisk-activation-id", invocation.activation_id)]
        ended = invocation.ended
        if ended is None:
            raise _with_headers(ApiError(202, RESPONSE_NOT_READY), headers)
        result = ended.record.response.result
        try:
            if isinstance(result, msgspec.Raw):
                result = any_decoder.decode(result)
            rendered = render_activation(ended.status, result, target.extension, target.path)
        except ApiError as error:
            raise _with_headers(error, headers) from None
        except RecursionError:  # the pool bounds a result's nesting; this is the second line of defence
            raise _with_headers(ApiError(400, WEB_PROCESSING_ERROR), headers) from None
        return _response(rendered, headers)

    return [Route("/api/v1/web/{ns}/{pkg}/{rest:path}", web_action, methods=METHODS)], serve


def _response(web: WebResponse, extra: list[tuple[str, str]]) -> Response:
    """`web` as a Starlette response; `extra` headers the action did not set itself are added."""
    response = Response(web.body, status_code=web.status)
    own = {name.lower() for name, _ in web.headers}
    headers = [*web.headers, *((name, value) for name, value in extra if name.lower() not in own)]
    if web.content_type is not None:
        headers.append(("content-type", web.content_type))
    response.raw_headers.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)
    return response


def _with_headers(error: ApiError, headers: list[tuple[str, str]]) -> ApiError:
    return ApiError(error.status, error.message, {**error.headers, **dict(headers)})
