"""Activation records: built in one place from a run's outcome."""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from gateway.models import Action, ActivationRecord, ActivationResponse, Identity, KeyValue, encoder
from gateway.store import ActivationRow
from pool import ActivationStatus, RunResult


def build_record(
    identity: Identity,
    action: Action,
    activation_id: str,
    outcome: RunResult,
    *,
    wait_ms: int,
    cause: str | None = None,
) -> ActivationRecord:
    annotations: list[KeyValue] = [
        KeyValue("limits", msgspec.to_builtins(action.limits)),
        KeyValue("path", action.fully_qualified_name),
        KeyValue("kind", action.exec.kind),
        KeyValue("timeout", outcome.timed_out),
        KeyValue("initTime", outcome.init_ms),
        KeyValue("waitTime", wait_ms),
    ]
    if outcome.cold_start:
        annotations.append(KeyValue("coldStart", True))
    return ActivationRecord(
        namespace=identity.namespace,
        name=action.name,
        version=action.version,
        subject=identity.subject,
        activationId=activation_id,
        start=outcome.start_ms,
        end=outcome.end_ms,
        duration=outcome.end_ms - outcome.start_ms,
        response=response(outcome.status, msgspec.Raw(outcome.result), outcome.size),
        logs=outcome.logs,
        annotations=annotations,
        cause=cause or UNSET,
    )


def failed_record(
    identity: Identity,
    action: Action,
    activation_id: str,
    message: str,
    *,
    start_ms: int,
    end_ms: int,
    cause: str | None = None,
) -> ActivationRecord:
    """The record of an activation that never reached a container: a `whisk internal error`."""
    return ActivationRecord(
        namespace=identity.namespace,
        name=action.name,
        version=action.version,
        subject=identity.subject,
        activationId=activation_id,
        start=start_ms,
        end=end_ms,
        duration=end_ms - start_ms,
        response=response(ActivationStatus.INTERNAL_ERROR, {"error": message}, None),
        annotations=[
            KeyValue("limits", msgspec.to_builtins(action.limits)),
            KeyValue("path", action.fully_qualified_name),
            KeyValue("kind", action.exec.kind),
            KeyValue("timeout", False),
            KeyValue("waitTime", end_ms - start_ms),
        ],
        cause=cause or UNSET,
    )


def response(status: ActivationStatus, result: object, size: int | None) -> ActivationResponse:
    return ActivationResponse(
        status=status.text, success=status is ActivationStatus.SUCCESS, result=result, size=size
    )


def activation_row(record: ActivationRecord, entity_path: str) -> ActivationRow:
    """The stored row; `entity_path` is the action's path (`ns` or `ns/pkg`) for the `name` filter."""
    _, _, package = entity_path.partition("/")
    name = f"{package}/{record.name}" if package else record.name
    return ActivationRow(
        activation_id=record.activationId,
        namespace=record.namespace,
        name=name,
        start=record.start,
        end=record.end or 0,
        doc=encoder.encode(record),
    )
