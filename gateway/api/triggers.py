"""`/namespaces/{ns}/triggers`: list, get, create/update, delete and fire triggers."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.collection import delete_entity, existing_for_put, list_response, named, write_entity
from gateway.clock import Clock
from gateway.config import LimitsConfig
from gateway.entities.auth import Authenticator, authorize, resolve_namespace
from gateway.entities.names import flag
from gateway.entities.resolve import get_existing
from gateway.entities.triggers import create_trigger, summarize_trigger, update_trigger
from gateway.events.firing import fire_trigger
from gateway.invoke.controller import Controller
from gateway.store import Entity, EntityKind, Store
from gateway.wire.codec import decode, decode_object, json_response, read_body
from gateway.wire.models import ActivationId, Trigger, trigger_decoder, trigger_put_decoder

HIDDEN_HEADERS = frozenset({"authorization"})  # never handed to rule actions in `__ow_headers`


async def get_trigger(store: Store, namespace: str, name: str) -> tuple[Entity, Trigger]:
    """The trigger `namespace/name`: 404 when absent, 409 when the name is another kind of entity."""
    entity = await get_existing(store, EntityKind.TRIGGER, namespace, name)
    return entity, trigger_decoder.decode(entity.doc)


def routes(
    bounds: LimitsConfig, store: Store, controller: Controller, authenticate: Authenticator, clock: Clock
) -> list[Route]:
    put_max_bytes = 2 * bounds.parameters_max_bytes + 65536

    async def list_triggers(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        authorize(identity, namespace, namespace)
        return await list_response(
            store, EntityKind.TRIGGER, "triggers", namespace, request.query_params,
            lambda row: summarize_trigger(trigger_decoder.decode(row.doc)),
        )

    async def get_one(request: Request) -> Response:
        _, namespace, name = await named(request, authenticate)
        entity, _ = await get_trigger(store, namespace, name)
        return json_response(msgspec.Raw(entity.doc))

    async def put_trigger(request: Request) -> Response:
        _, namespace, name = await named(request, authenticate)
        overwrite = flag(request.query_params, "overwrite")
        put = decode(await read_body(request, put_max_bytes), trigger_put_decoder)
        existing = await existing_for_put(store, EntityKind.TRIGGER, namespace, name, overwrite)
        now_ms = clock.wall_ms()
        if existing is None:
            trigger = create_trigger(put, namespace, name, bounds=bounds, now_ms=now_ms)
        else:
            trigger = update_trigger(trigger_decoder.decode(existing.doc), put, bounds=bounds, now_ms=now_ms)
        doc = await write_entity(store, EntityKind.TRIGGER, namespace, name, trigger, trigger.updated, existing)
        return json_response(msgspec.Raw(doc))

    async def delete_trigger(request: Request) -> Response:
        """The trigger goes; its rules stay, and read `inactive` from then on."""
        _, namespace, name = await named(request, authenticate)
        entity, _ = await get_trigger(store, namespace, name)
        return await delete_entity(store, namespace, name, entity.revision)

    async def fire(request: Request) -> Response:
        """204 without a body when no rule is active; else 202 with the trigger activation id."""
        identity, namespace, name = await named(request, authenticate)
        controller.admit_fire(identity)
        payload = decode_object(await read_body(request, bounds.payload_max_bytes))
        _, trigger = await get_trigger(store, namespace, name)
        headers = {key: value for key, value in request.headers.items() if key not in HIDDEN_HEADERS}
        activation_id = await fire_trigger(store, controller, clock, identity, trigger, payload, headers)
        if activation_id is None:
            return Response(status_code=204)
        return json_response(ActivationId(activation_id), 202, {"x-openwhisk-activation-id": activation_id})

    by_method = {"GET": get_one, "PUT": put_trigger, "DELETE": delete_trigger, "POST": fire}

    async def trigger(request: Request) -> Response:
        return await by_method[request.method](request)

    return [
        Route("/api/v1/namespaces/{ns}/triggers", list_triggers, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/triggers/{name}", trigger, methods=["GET", "PUT", "DELETE", "POST"]),
    ]
