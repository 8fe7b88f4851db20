"""`/namespaces/{ns}/rules`: list, get, create/update, enable/disable and delete rules.

A rule's status lives in its trigger (`trigger.rules["ns/rule"]`), so writing a rule also writes the
trigger it links.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.api.collection import existing_for_put, list_response, named, remove_entity, write_entity
from gateway.api.triggers import get_trigger
from gateway.clock import Clock
from gateway.entities.auth import Authenticator, authorize, authorize_package, resolve_namespace
from gateway.entities.names import flag
from gateway.entities.resolve import QualifiedName, get_existing, resolve_action
from gateway.entities.triggers import (
    ACTIVE,
    INACTIVE,
    create_rule,
    linked,
    rule_key,
    rule_reference,
    rule_status,
    unlinked,
    update_rule,
    with_status,
)
from gateway.store import Conflict, Entity, EntityKind, Store
from gateway.wire.codec import decode, json_response, read_body
from gateway.wire.errors import (
    CONFLICT,
    RULE_NEEDS_TRIGGER_AND_ACTION,
    RULE_STATUS_INVALID,
    RULE_WITHOUT_TRIGGER,
    ApiError,
    malformed,
    rule_reference_missing,
)
from gateway.wire.models import (
    Identity,
    Rule,
    Trigger,
    encoder,
    rule_decoder,
    rule_put_decoder,
    rule_status_decoder,
    trigger_decoder,
)

BODY_MAX_BYTES = 1048576
WRITE_ATTEMPTS = 5  # a trigger changed by a concurrent write is re-read and changed again


def routes(store: Store, authenticate: Authenticator, clock: Clock) -> list[Route]:
    async def fetch(namespace: str, name: str) -> tuple[Entity, Rule]:
        entity = await get_existing(store, EntityKind.RULE, namespace, name)
        return entity, rule_decoder.decode(entity.doc)

    async def trigger_of(rule: Rule) -> Trigger | None:
        try:
            return (await get_trigger(store, rule.trigger.path, rule.trigger.name))[1]
        except ApiError:
            return None

    async def change_trigger(path: str, name: str, change: Callable[[Trigger], Trigger]) -> bool:
        """Apply `change` to the trigger and store it; False when there is no such trigger."""
        for _ in range(WRITE_ATTEMPTS):
            entity = await store.get_entity(path, name)
            if entity is None or entity.kind != EntityKind.TRIGGER:
                return False
            trigger = msgspec.structs.replace(change(trigger_decoder.decode(entity.doc)), updated=clock.wall_ms())
            try:
                doc = encoder.encode(trigger)
                await store.put_entity(EntityKind.TRIGGER, path, name, doc, trigger.updated, entity.revision)
            except Conflict:
                continue
            return True
        raise ApiError(409, CONFLICT)

    async def check_references(identity: Identity, trigger: QualifiedName, action: QualifiedName) -> None:
        """The caller must be able to read both; both must exist (400 naming the missing one)."""
        authorize(identity, trigger.namespace, trigger.fully_qualified_name)
        if action.package is None:
            authorize(identity, action.namespace, action.fully_qualified_name)
        else:
            await authorize_package(store, identity, action.namespace, action.package, action.fully_qualified_name)
        entity = await store.get_entity(trigger.path, trigger.name)
        if entity is None or entity.kind != EntityKind.TRIGGER:
            raise rule_reference_missing("trigger", trigger.fully_qualified_name)
        try:
            await resolve_action(store, action.namespace, action.package, action.name)
        except ApiError:
            raise rule_reference_missing("action", action.fully_qualified_name) from None

    async def list_rules(request: Request) -> Response:
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        authorize(identity, namespace, namespace)
        return await list_response(
            store, EntityKind.RULE, "rules", namespace, request.query_params, lambda row: msgspec.Raw(row.doc)
        )

    async def get_rule(request: Request) -> Response:
        _, namespace, name = await named(request, authenticate)
        _, rule = await fetch(namespace, name)
        return json_response(with_status(rule, rule_status(await trigger_of(rule), rule_key(namespace, name))))

    async def put_rule(request: Request) -> Response:
        """Create (linked `active`) or update (status kept, link moved to a new trigger)."""
        identity, namespace, name = await named(request, authenticate)
        overwrite = flag(request.query_params, "overwrite")
        put = decode(await read_body(request, BODY_MAX_BYTES), rule_put_decoder)
        existing = await existing_for_put(store, EntityKind.RULE, namespace, name, overwrite)
        old = None if existing is None else rule_decoder.decode(existing.doc)
        trigger = _reference(put.trigger, old and old.trigger, identity.namespace)
        action = _reference(put.action, old and old.action, identity.namespace)
        await check_references(identity, trigger, action)
        key = rule_key(namespace, name)
        now_ms = clock.wall_ms()
        if old is None:
            rule, status = create_rule(put, namespace, name, trigger, action, now_ms=now_ms), ACTIVE
        else:
            rule = update_rule(old, put, trigger, action, now_ms=now_ms)
            status = rule_status(await trigger_of(old), key)
        await write_entity(store, EntityKind.RULE, namespace, name, rule, now_ms, existing)
        if old is not None and old.trigger != rule.trigger:
            await change_trigger(old.trigger.path, old.trigger.name, lambda t: unlinked(t, key))
        await change_trigger(rule.trigger.path, rule.trigger.name, lambda t: linked(t, key, rule.action, status))
        return json_response(with_status(rule, status))

    async def set_status(request: Request) -> Response:
        """`{"status": "active" | "inactive"}`; 200 `OK` whether or not it changed anything."""
        _, namespace, name = await named(request, authenticate)
        status = decode(await read_body(request, BODY_MAX_BYTES), rule_status_decoder).status
        if status not in (ACTIVE, INACTIVE):
            raise malformed(RULE_STATUS_INVALID)
        _, rule = await fetch(namespace, name)
        key = rule_key(namespace, name)
        if not await change_trigger(rule.trigger.path, rule.trigger.name, lambda t: linked(t, key, rule.action, status)):
            raise ApiError(404, RULE_WITHOUT_TRIGGER)
        return PlainTextResponse("OK")

    async def delete_rule(request: Request) -> Response:
        _, namespace, name = await named(request, authenticate)
        entity, rule = await fetch(namespace, name)
        await change_trigger(rule.trigger.path, rule.trigger.name, lambda t: unlinked(t, rule_key(namespace, name)))
        await remove_entity(store, namespace, name, entity.revision)
        return json_response(with_status(rule, INACTIVE))

    by_method = {"GET": get_rule, "PUT": put_rule, "POST": set_status, "DELETE": delete_rule}

    async def rule(request: Request) -> Response:
        return await by_method[request.method](request)

    return [
        Route("/api/v1/namespaces/{ns}/rules", list_rules, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/rules/{name}", rule, methods=["GET", "PUT", "POST", "DELETE"]),
    ]


def _reference(given: object, old: object, caller_namespace: str) -> QualifiedName:
    """The rule's trigger or action: the given one, or on update the old one; 400 when neither."""
    if given is msgspec.UNSET or given is None:
        if old is None:
            raise ApiError(400, RULE_NEEDS_TRIGGER_AND_ACTION)
        given = msgspec.to_builtins(old)
    return rule_reference(given, caller_namespace)
