"""Sequences: their components checked when one is written, and run one after another when invoked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.clock import Clock
from gateway.entities.actions import SEQUENCE
from gateway.entities.auth import authorize, authorize_package
from gateway.entities.resolve import QualifiedName, ResolvedAction, parse_qualified_name, resolve_action
from gateway.invoke.records import Ended, response, sequence_record
from gateway.store import Store
from gateway.wire.errors import (
    SEQUENCE_COMPONENT_MISSING,
    SEQUENCE_FAILED,
    SEQUENCE_SELF_REFERENCE,
    SEQUENCE_TOO_LONG,
    ApiError,
)
from gateway.wire.jsonbody import any_decoder
from gateway.wire.models import Action, Identity
from pool import ActivationStatus

log = logging.getLogger("whisklet.sequences")

async def resolve_component(store: Store, identity: Identity, component: str) -> ResolvedAction:
    """A component (`/ns[/pkg]/name`) as `identity` may run it: 403 when it may not, 404/409 when it
    is not an action (`resolve_action`)."""
    name = parse_qualified_name(component, identity.namespace)
    if name.package is None:
        authorize(identity, name.namespace, name.fully_qualified_name)
    else:
        await authorize_package(store, identity, name.namespace, name.package, name.fully_qualified_name)
    return await resolve_action(store, name.namespace, name.package, name.name)


async def check_components(
    store: Store, identity: Identity, sequence: QualifiedName, components: list[str], max_length: int
) -> None:
    """Raise `ApiError` 400 unless the components of the sequence `sequence` all exist, none of them
    leads back to it (through nested sequences too), and at most `max_length` atomic actions run when
    nested sequences are inlined. Components are fully qualified (`/ns[/pkg]/name`)."""
    own = sequence.fully_qualified_name
    atomic = 0

    async def walk(names: list[str], depth: int) -> None:
        nonlocal atomic
        if depth > max_length:
            raise ApiError(400, SEQUENCE_TOO_LONG)
        for component in names:
            if parse_qualified_name(component, identity.namespace).fully_qualified_name == own:
                raise ApiError(400, SEQUENCE_SELF_REFERENCE)
            try:
                action = (await resolve_component(store, identity, component)).action
            except ApiError as error:
                if error.status == 403:
                    raise
                raise ApiError(400, SEQUENCE_COMPONENT_MISSING) from None
            if action.fully_qualified_name == own:
                raise ApiError(400, SEQUENCE_SELF_REFERENCE)
            if action.exec.kind == SEQUENCE:
                await walk(list(action.exec.components or []), depth + 1)
            else:
                atomic += 1
                if atomic > max_length:
                    raise ApiError(400, SEQUENCE_TOO_LONG)

    await walk(components, 0)


@dataclass(slots=True)
class Budget:
    """What the whole of one top-level sequence may still run: atomic actions, and nesting depth."""

    atomic_left: int
    depth_left: int


RunComponent = Callable[[ResolvedAction, Any, str, Budget], Awaitable[Ended]]
"""Runs one component to its stored record: (component, its input, the sequence's activation id, budget)."""


async def run_sequence(
    store: Store,
    identity: Identity,
    sequence: Action,
    value: Any,
    activation_id: str,
    *,
    run_component: RunComponent,
    budget: Budget,
    clock: Clock,
    received_ms: int,
    cause: str | None = None,
    binding: str | None = None,
) -> Ended:
    """Run the components of `sequence` one after another and return the sequence's record.

    The first component gets `value` (the request payload; not the sequence's own `_actions`
    parameter), each later one the previous result when it is an object or an array, else nothing.
    The first component that fails ends the sequence, which then answers with that component's
    response. All components are resolved (and entitlement checked) before the first runs; a missing
    one is an `application error`, as is going past the atomic action budget.
    """
    start_ms = clock.wall_ms()
    components: list[Ended] = []
    try:
        resolved = await asyncio.gather(
            *(resolve_component(store, identity, name) for name in sequence.exec.components or [])
        )
    except ApiError as error:
        message = SEQUENCE_COMPONENT_MISSING if error.status in (404, 409) else error.message
        status = ActivationStatus.APPLICATION_ERROR
        outcome = response(status, {"error": message}, None)
    else:
        status = ActivationStatus.SUCCESS
        outcome = response(status, value, None)
        budget.depth_left -= 1
        try:
            for component in resolved:
                if component.action.exec.kind != SEQUENCE:
                    if budget.atomic_left <= 0:
                        status = ActivationStatus.APPLICATION_ERROR
                        outcome = response(status, {"error": SEQUENCE_TOO_LONG}, None)
                        break
                    budget.atomic_left -= 1
                elif budget.depth_left <= 0:
                    status = ActivationStatus.APPLICATION_ERROR
                    outcome = response(status, {"error": SEQUENCE_TOO_LONG}, None)
                    break
                ended = await run_component(component, value, activation_id, budget)
                components.append(ended)
                status, outcome = ended.status, ended.record.response
                if status is not ActivationStatus.SUCCESS:
                    break
                value = next_input(outcome.result)
        except Exception:
            log.exception("sequence %s (%s) failed", sequence.fully_qualified_name, activation_id)
            status = ActivationStatus.INTERNAL_ERROR
            outcome = response(status, {"error": SEQUENCE_FAILED}, None)
        finally:
            budget.depth_left += 1
    return sequence_record(
        identity,
        sequence,
        activation_id,
        components=components,
        status=status,
        response=outcome,
        start_ms=start_ms,
        end_ms=clock.wall_ms(),
        wait_ms=max(start_ms - received_ms, 0),
        cause=cause,
        binding=binding,
    )


def next_input(result: Any) -> Any:
    """A component's result as the next one's input: an object or an array, else nothing (`{}`)."""
    if isinstance(result, msgspec.Raw):
        result = any_decoder.decode(result)
    return result if isinstance(result, dict | list) else {}
