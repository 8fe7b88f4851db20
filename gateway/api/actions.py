"""`/namespaces/{ns}/actions`: list, get, create/update, delete and invoke actions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.wire import decode, decode_object, json_response, read_body
from gateway.auth import Authenticator, authorize, resolve_namespace
from gateway.config import Config
from gateway.controller import Controller, Invocation
from gateway.entities import create_action, summarize, update_action, without_code
from gateway.errors import (
    ALREADY_EXISTS,
    BINDING_OPERATION,
    CONFLICT,
    NOT_FOUND,
    WRONG_COLLECTION,
    ApiError,
)
from gateway.middleware import request_id
from gateway.models import (
    STATUS_CODES,
    Action,
    ActivationId,
    Identity,
    Runtime,
    action_decoder,
    action_put_decoder,
    encoder,
)
from gateway.names import entity_name, flag, page, wait_ms
from gateway.store import Conflict, Entity, EntityKind, Store

HTTP_STATUS = {0: 200, 1: 502, 2: 502, 3: 500}  # by activation status code: blocking invoke responses


class _PackageView(msgspec.Struct):
    """What an action route needs to know of a package document."""

    binding: object = None


_package_decoder = msgspec.json.Decoder(_PackageView)


@dataclass(frozen=True, slots=True)
class Target:
    """The action a request names: `/namespaces/{ns}/actions/[{pkg}/]{name}`."""

    identity: Identity
    namespace: str
    package: str | None
    name: str

    @property
    def path(self) -> str:
        return self.namespace if self.package is None else f"{self.namespace}/{self.package}"


def routes(
    config: Config, store: Store, controller: Controller, authenticate: Authenticator, runtimes: Mapping[str, Runtime]
) -> list[Route]:
    bounds = config.limits
    put_max_bytes = bounds.code_max_bytes + 2 * bounds.parameters_max_bytes + 65536

    async def target(request: Request) -> Target:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        package = request.path_params.get("pkg")
        found = Target(identity, namespace, package and entity_name(package), entity_name(request.path_params["name"]))
        authorize(identity, namespace, f"{found.path}/{found.name}")
        return found

    async def fetch(found: Target) -> tuple[Entity, Action]:
        entity = await store.get_entity(found.path, found.name)
        if entity is None:
            raise ApiError(404, NOT_FOUND)
        if entity.kind != EntityKind.ACTION:
            raise ApiError(409, WRONG_COLLECTION)
        return entity, action_decoder.decode(entity.doc)

    async def require_package(namespace: str, package: str) -> None:
        entity = await store.get_entity(namespace, package)
        if entity is None:
            raise ApiError(404, NOT_FOUND)
        if entity.kind != EntityKind.PACKAGE:
            raise ApiError(409, WRONG_COLLECTION)
        if _package_decoder.decode(entity.doc).binding:
            raise ApiError(400, BINDING_OPERATION)

    async def list_actions(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        package = request.path_params.get("pkg")
        path = None if package is None else f"{namespace}/{entity_name(package)}"
        authorize(identity, namespace, path or namespace)
        listing = page(request.query_params, "actions")
        if listing.count:
            count = await store.count_entities(EntityKind.ACTION, namespace, path)
            return json_response({"actions": max(count - listing.skip, 0)})
        rows = await store.list_entities(EntityKind.ACTION, namespace, path, limit=listing.limit, skip=listing.skip)
        return json_response([summarize(action_decoder.decode(row.doc)) for row in rows])

    async def get_action(request: Request) -> Response:
        found = await target(request)
        entity, action = await fetch(found)
        if flag(request.query_params, "code", default=True):
            return json_response(msgspec.Raw(entity.doc))
        return json_response(without_code(action))

    async def put_action(request: Request) -> Response:
        found = await target(request)
        overwrite = flag(request.query_params, "overwrite")
        put = decode(await read_body(request, put_max_bytes), action_put_decoder)
        if found.package is not None:
            await require_package(found.namespace, found.package)
        existing = await store.get_entity(found.path, found.name)
        now_ms = int(time.time() * 1000)
        if existing is None:
            action = create_action(put, found.path, found.name, bounds=bounds, now_ms=now_ms, runtimes=runtimes)
            conflict, revision = ALREADY_EXISTS, None
        elif not overwrite:
            raise ApiError(409, ALREADY_EXISTS)
        elif existing.kind != EntityKind.ACTION:
            raise ApiError(409, WRONG_COLLECTION)
        else:
            old = action_decoder.decode(existing.doc)
            action = update_action(old, put, bounds=bounds, now_ms=now_ms, runtimes=runtimes)
            conflict, revision = CONFLICT, existing.revision
        doc = encoder.encode(action)
        try:
            await store.put_entity(EntityKind.ACTION, found.path, found.name, doc, action.updated, revision)
        except Conflict:
            raise ApiError(409, conflict) from None
        return json_response(msgspec.Raw(doc))

    async def delete_action(request: Request) -> Response:
        found = await target(request)
        entity, _ = await fetch(found)
        try:
            deleted = await store.delete_entity(found.path, found.name, entity.revision)
        except Conflict:
            raise ApiError(409, CONFLICT) from None
        if deleted is None:
            raise ApiError(404, NOT_FOUND)
        return json_response(msgspec.Raw(deleted.doc))

    async def invoke_action(request: Request) -> Response:
        found = await target(request)
        admission = controller.admit(found.identity)
        try:
            query = request.query_params
            blocking, result_only = flag(query, "blocking"), flag(query, "result")
            wait = wait_ms(query, bounds.blocking_wait_max_ms)
            payload = decode_object(await read_body(request, bounds.payload_max_bytes))
            _, action = await fetch(found)
        except BaseException:
            controller.release(admission)
            raise
        invocation = await controller.invoke(
            found.identity,
            action,
            payload,
            admission=admission,
            blocking=blocking,
            wait_ms=wait,
            transaction_id=request_id(request),
        )
        return invoke_response(invocation, result_only)

    by_method = {
        "GET": get_action,
        "HEAD": get_action,
        "PUT": put_action,
        "DELETE": delete_action,
        "POST": invoke_action,
    }

    async def action(request: Request) -> Response:
        return await by_method[request.method](request)

    methods = ["GET", "PUT", "DELETE", "POST"]
    return [
        Route("/api/v1/namespaces/{ns}/actions", list_actions, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/actions/{pkg}/", list_actions, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/actions/{name}", action, methods=methods),
        Route("/api/v1/namespaces/{ns}/actions/{pkg}/{name}", action, methods=methods),
    ]


def invoke_response(invocation: Invocation, result_only: bool) -> Response:
    """202 with the id while no record is known; else 200/502/500 by status with the record, the bare
    result (`result=true`, or always when the result is an array)."""
    headers = {"x-openwhisk-activation-id": invocation.activation_id}
    record = invocation.record
    if record is None:
        return json_response(ActivationId(invocation.activation_id), 202, headers)
    status = HTTP_STATUS[STATUS_CODES[record.response.status]]
    result = record.response.result
    if result_only:
        return json_response({} if result is None else result, status, headers)
    if _is_array(result):
        return json_response(result, status, headers)
    return json_response(record, status, headers)


def _is_array(value: object) -> bool:
    if isinstance(value, msgspec.Raw):
        return bytes(value).lstrip()[:1] == b"["
    return isinstance(value, list)
