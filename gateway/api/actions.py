"""`/namespaces/{ns}/actions`: list, get, create/update, delete and invoke actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.collection import delete_entity, existing_for_put, list_response, write_entity
from gateway.clock import Clock
from gateway.config import Config
from gateway.entities.actions import SEQUENCE, create_action, summarize_action, update_action, without_code
from gateway.entities.auth import Authenticator, authorize, authorize_package, resolve_namespace
from gateway.entities.names import entity_name, flag, wait_ms
from gateway.entities.resolve import QualifiedName, get_existing, get_package, resolve_action, resolve_package
from gateway.invoke.controller import Controller, Invocation
from gateway.invoke.sequences import check_components
from gateway.store import Entity, EntityKind, Store
from gateway.wire.codec import decode, decode_object, json_response, read_body, request_id
from gateway.wire.errors import (
    BINDING_OPERATION,
    NOT_FOUND,
    ApiError,
    warning,
)
from gateway.wire.models import (
    Action,
    ActivationId,
    Identity,
    Runtime,
    action_decoder,
    action_put_decoder,
)
from pool import ActivationStatus

HTTP_STATUS = {  # blocking invoke responses, by activation status
    ActivationStatus.SUCCESS: 200,
    ActivationStatus.APPLICATION_ERROR: 502,
    ActivationStatus.DEVELOPER_ERROR: 502,
    ActivationStatus.INTERNAL_ERROR: 500,
}


@dataclass(frozen=True, slots=True)
class Target(QualifiedName):
    """The action a request names, `/namespaces/{ns}/actions/[{pkg}/]{name}`, and who names it."""

    identity: Identity


def routes(
    config: Config,
    store: Store,
    controller: Controller,
    authenticate: Authenticator,
    runtimes: Mapping[str, Runtime],
    clock: Clock,
) -> list[Route]:
    bounds = config.limits
    put_max_bytes = bounds.code_max_bytes + 2 * bounds.parameters_max_bytes + 65536

    async def target(request: Request) -> Target:
        """The action a request names, once the caller may act on it: in its own namespace anything;
        elsewhere GET and POST of actions in published packages (and bindings to them)."""
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        package = request.path_params.get("pkg")
        found = Target(namespace, package and entity_name(package), entity_name(request.path_params["name"]), identity)
        resource = f"{found.path}/{found.name}"
        if found.package is not None and request.method in ("GET", "HEAD", "POST"):
            await authorize_package(store, identity, namespace, found.package, resource)
        else:
            authorize(identity, namespace, resource)
        return found

    async def fetch(found: Target) -> tuple[Entity, Action]:
        entity = await get_existing(store, EntityKind.ACTION, found.path, found.name)
        return entity, action_decoder.decode(entity.doc)

    async def require_package(namespace: str, package: str) -> None:
        """404 unless the package exists; 400 when it is a binding (its actions are not its own)."""
        found = await get_package(store, namespace, package)
        if found is None:
            raise ApiError(404, NOT_FOUND)
        if found.binding:
            raise ApiError(400, BINDING_OPERATION)

    async def list_actions(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        package = request.path_params.get("pkg")
        if package is None:
            authorize(identity, namespace, namespace)
            path = None
        else:
            package = entity_name(package)
            await authorize_package(store, identity, namespace, package, f"{namespace}/{package}")
            path = (await resolve_package(store, namespace, package)).path  # a binding lists its package's
        return await list_response(
            store, EntityKind.ACTION, "actions", namespace, request.query_params,
            lambda row: summarize_action(action_decoder.decode(row.doc)), path,
        )

    async def get_action(request: Request) -> Response:
        """The action; in a package (or through a binding) with the package's parameters merged in."""
        found = await target(request)
        with_code = flag(request.query_params, "code", default=True)
        if found.package is None:
            entity, action = await fetch(found)
            if with_code:
                return json_response(msgspec.Raw(entity.doc))
        else:
            action = (await resolve_action(store, found.namespace, found.package, found.name)).action
        return json_response(action if with_code else without_code(action))

    async def put_action(request: Request) -> Response:
        found = await target(request)
        overwrite = flag(request.query_params, "overwrite")
        put = decode(await read_body(request, put_max_bytes), action_put_decoder)
        if found.package is not None:
            await require_package(found.namespace, found.package)
        existing = await existing_for_put(store, EntityKind.ACTION, found.path, found.name, overwrite)
        now_ms = clock.wall_ms()
        if existing is None:
            action = create_action(put, found.path, found.name, bounds=bounds, now_ms=now_ms, runtimes=runtimes)
        else:
            old = action_decoder.decode(existing.doc)
            action = update_action(old, put, bounds=bounds, now_ms=now_ms, runtimes=runtimes)
        if action.exec.kind == SEQUENCE and put.exec:
            components = list(action.exec.components or [])
            await check_components(store, found.identity, found, components, bounds.sequence_max_length)
        doc = await write_entity(store, EntityKind.ACTION, found.path, found.name, action, action.updated, existing)
        return json_response(msgspec.Raw(doc))

    async def delete_action(request: Request) -> Response:
        found = await target(request)
        if found.package is not None:
            await require_package(found.namespace, found.package)
        entity, _ = await fetch(found)
        return await delete_entity(store, found.path, found.name, entity.revision)

    async def invoke_action(request: Request) -> Response:
        found = await target(request)
        with controller.admit(found.identity) as admission:
            query = request.query_params
            blocking, result_only = flag(query, "blocking"), flag(query, "result")
            wait = wait_ms(query, bounds.blocking_wait_max_ms)
            payload = decode_object(await read_body(request, bounds.payload_max_bytes))
            resolved = await resolve_action(store, found.namespace, found.package, found.name)
            invocation = await controller.invoke(
                found.identity,
                resolved.action,
                payload,
                admission=admission,
                blocking=blocking,
                wait_ms=wait,
                transaction_id=request_id(request),
                binding=resolved.binding,
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
    if invocation.unstored is not None:  # the result is real; its record is not durable yet
        headers["warning"] = warning(invocation.unstored)
    ended = invocation.ended
    if ended is None:
        return json_response(ActivationId(invocation.activation_id), 202, headers)
    record = ended.record
    status = HTTP_STATUS[ended.status]
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
