"""Firing a trigger: each active rule's action started non-blocking, and the trigger's activation record."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from gateway.clock import Clock
from gateway.entities.auth import authorize, authorize_package
from gateway.entities.resolve import resolve_action
from gateway.entities.triggers import active_rules
from gateway.invoke.controller import Controller
from gateway.invoke.records import activation_row, trigger_record
from gateway.store import Store
from gateway.wire.errors import ApiError
from gateway.wire.models import Identity, ReducedRule, RuleActivated, RuleFailed, Trigger, encoder


async def fire_trigger(
    store: Store,
    controller: Controller,
    clock: Clock,
    identity: Identity,
    trigger: Trigger,
    payload: dict[str, Any],
    headers: dict[str, str],
) -> str | None:
    """Fire `trigger` for `identity`; return the trigger activation id, None when no rule is active.

    Each active rule's action is invoked non-blocking as `identity` would invoke it over the REST API
    (entitlement, then the invoke throttles, then the lookup), with the trigger's parameters <
    `{"__ow_headers": headers}` < `payload` as arguments. The trigger record (timed by `clock`, stored
    before this returns) has the payload as its result and one JSON log line per rule, in the trigger's rule order.
    The fire throttle is the caller's (`Controller.admit_fire`). A fire that ends is reported to the
    controller's observer with how many rules were active.
    """
    rules = active_rules(trigger)
    if not rules:
        controller.observer.trigger_fired(0)
        return None
    start_ms = clock.wall_ms()
    arguments = {p.key: p.value for p in trigger.parameters} | {"__ow_headers": headers} | payload
    lines = await asyncio.gather(
        *(_activate_rule(store, controller, identity, key, rule, arguments) for key, rule in rules.items())
    )
    activation_id = uuid.uuid4().hex
    record = trigger_record(identity, trigger, activation_id, payload, list(lines), start_ms=start_ms)
    store.put_activation(activation_row(record, trigger.namespace))
    await store.flush()  # durable before its id is answered (StoreError: 503)
    controller.observer.trigger_fired(len(rules))
    return activation_id


async def _activate_rule(
    store: Store, controller: Controller, identity: Identity, key: str, rule: ReducedRule, arguments: dict[str, Any]
) -> str:
    action_name = rule.action.fully_qualified_name
    namespace, _, package = rule.action.path.partition("/")
    try:
        if package:
            await authorize_package(store, identity, namespace, package, action_name)
        else:
            authorize(identity, namespace, action_name)
        with controller.admit(identity) as admission:
            resolved = await resolve_action(store, namespace, package or None, rule.action.name)
            invocation = await controller.invoke(
                identity, resolved.action, dict(arguments),
                admission=admission, blocking=False, wait_ms=0, binding=resolved.binding,
            )
    except ApiError as error:
        line: RuleActivated | RuleFailed = RuleFailed(
            statusCode=3 if error.status >= 500 else 1, success=False, error=error.message, rule=key, action=action_name
        )
    else:
        line = RuleActivated(
            statusCode=0, success=True, activationId=invocation.activation_id, rule=key, action=action_name
        )
    return encoder.encode(line).decode()
