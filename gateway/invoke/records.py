"""Activation records: built in one place from a run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import msgspec
from msgspec import UNSET

from gateway.store import ActivationRow
from gateway.wire.models import Action, ActivationRecord, ActivationResponse, Identity, KeyValue, Trigger, encoder
from pool import ActivationStatus, ResourceUse, RunResult


@dataclass(frozen=True, slots=True)
class Ended:
    """An activation that ended: its record, and the typed facts the record's strings and annotations
    were rendered from, which metrics, HTTP statuses and web responses read instead of the record."""

    record: ActivationRecord
    status: ActivationStatus
    kind: str
    memory_mb: int
    wait_ms: int
    init_ms: int | None = None
    cold_start: bool = False
    resource_use: ResourceUse | None = None


def build_record(
    identity: Identity,
    action: Action,
    activation_id: str,
    outcome: RunResult,
    *,
    wait_ms: int,
    cause: str | None = None,
    binding: str | None = None,
) -> Ended:
    """The record of an activation that ran. `cause` is the enclosing sequence's activation id (the
    record is then `causedBy: sequence`); `binding` is `ns/binding` when invoked through one."""
    annotations = _run_annotations(
        action, timed_out=outcome.timed_out, init_ms=outcome.init_ms, wait_ms=wait_ms, cause=cause, binding=binding
    )
    if outcome.cold_start:
        annotations.append(KeyValue("coldStart", True))
    annotations += _resource_use(outcome.resource_use)
    record = _action_record(
        identity, action, activation_id,
        start_ms=outcome.start_ms,
        end_ms=outcome.end_ms,
        response=response(outcome.status, msgspec.Raw(outcome.result), outcome.size),
        logs=outcome.logs,
        annotations=annotations,
        cause=cause,
    )
    return Ended(
        record, outcome.status, action.exec.kind, action.limits.memory, wait_ms, outcome.init_ms, outcome.cold_start,
        outcome.resource_use,
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
    binding: str | None = None,
) -> Ended:
    """The record of an activation that never reached a container: a `whisk internal error`."""
    record = _action_record(
        identity, action, activation_id,
        start_ms=start_ms,
        end_ms=end_ms,
        response=response(ActivationStatus.INTERNAL_ERROR, {"error": message}, None),
        logs=[],
        annotations=_run_annotations(
            action, timed_out=False, init_ms=None, wait_ms=end_ms - start_ms, cause=cause, binding=binding
        ),
        cause=cause,
    )
    return Ended(record, ActivationStatus.INTERNAL_ERROR, action.exec.kind, action.limits.memory, end_ms - start_ms)


def _action_record(
    identity: Identity,
    action: Action,
    activation_id: str,
    *,
    start_ms: int,
    end_ms: int,
    response: ActivationResponse,
    logs: list[str],
    annotations: list[KeyValue],
    cause: str | None,
) -> ActivationRecord:
    return ActivationRecord(
        namespace=identity.namespace,
        name=action.name,
        version=action.version,
        subject=identity.subject,
        activationId=activation_id,
        start=start_ms,
        end=end_ms,
        duration=end_ms - start_ms,
        response=response,
        logs=logs,
        annotations=annotations,
        cause=cause or UNSET,
    )


def _run_annotations(
    action: Action, *, timed_out: bool, init_ms: int | None, wait_ms: int, cause: str | None, binding: str | None
) -> list[KeyValue]:
    """The annotations OpenWhisk sets on an action's record; `initTime` only when `/init` ran."""
    return [
        KeyValue("limits", msgspec.to_builtins(action.limits)),
        KeyValue("path", action.fully_qualified_name),
        KeyValue("kind", action.exec.kind),
        KeyValue("timeout", timed_out),
        *_caused_by(cause),
        *([KeyValue("initTime", init_ms)] if init_ms is not None else []),
        KeyValue("waitTime", wait_ms),
        *_binding(binding),
    ]


def sequence_record(
    identity: Identity,
    sequence: Action,
    activation_id: str,
    *,
    components: list[Ended],
    status: ActivationStatus,
    response: ActivationResponse,
    start_ms: int,
    end_ms: int,
    wait_ms: int,
    cause: str | None = None,
    binding: str | None = None,
) -> Ended:
    """A sequence's record: `logs` = its components' activation ids in order, `duration` = the sum of
    theirs, `limits.memory` = the largest among them (the sequence's own when none ran), `topmost`
    unless it is itself a component (`cause`), and the last component's `response`."""
    memory = max((ended.memory_mb for ended in components), default=sequence.limits.memory)
    limits = msgspec.structs.replace(sequence.limits, memory=memory, concurrency=1)
    record = ActivationRecord(
        namespace=identity.namespace,
        name=sequence.name,
        version=sequence.version,
        subject=identity.subject,
        activationId=activation_id,
        start=start_ms,
        end=end_ms,
        duration=sum(ended.record.duration or 0 for ended in components),
        response=response,
        logs=[ended.record.activationId for ended in components],
        annotations=[
            KeyValue("topmost", cause is None),
            KeyValue("path", sequence.fully_qualified_name),
            KeyValue("kind", "sequence"),
            *_caused_by(cause),
            KeyValue("limits", msgspec.to_builtins(limits)),
            KeyValue("waitTime", wait_ms),
            *_binding(binding),
        ],
        cause=cause or UNSET,
    )
    return Ended(record, status, "sequence", memory, wait_ms)


def trigger_record(
    identity: Identity,
    trigger: Trigger,
    activation_id: str,
    payload: dict[str, Any],
    rule_logs: list[str],
    *,
    start_ms: int,
) -> ActivationRecord:
    """A trigger fire's record: the payload as result, one JSON log line per activated rule, and no
    `end` or `duration`."""
    return ActivationRecord(
        namespace=identity.namespace,
        name=trigger.name,
        version=trigger.version,
        subject=identity.subject,
        activationId=activation_id,
        start=start_ms,
        response=response(ActivationStatus.SUCCESS, payload, None),
        logs=rule_logs,
    )


_MIB = 1024 * 1024


def _resource_use(use: ResourceUse | None) -> list[KeyValue]:
    """`cpuTime` (CPU ms since the sandbox became ready) and `maxMemory` (its peak, whole MB, as Lambda's
    "Max Memory Used"): read by the driver from the sandbox's cgroups; absent when unknown."""
    if use is None:
        return []
    notes = [KeyValue("cpuTime", round(use.cpu_ms))]
    if use.peak_memory_bytes is not None:
        notes.append(KeyValue("maxMemory", use.peak_memory_bytes // _MIB))
    return notes


def _caused_by(cause: str | None) -> list[KeyValue]:
    return [] if cause is None else [KeyValue("causedBy", "sequence")]


def _binding(binding: str | None) -> list[KeyValue]:
    return [] if binding is None else [KeyValue("binding", binding)]


def response(status: ActivationStatus, result: object, size: int | None) -> ActivationResponse:
    return ActivationResponse(
        status=status.text, success=status is ActivationStatus.SUCCESS, result=result, size=size
    )


INTERNAL_ERROR = (
    "Whisklet failed while recording this activation's outcome; its result and logs are lost. "
    "The server log has the details; please report it."
)


def internal_error_record(ended: Ended) -> Ended:
    """`ended` with its result and logs replaced by a `whisk internal error`: what is stored when
    building or encoding the real record failed, so that the activation still has one."""
    record = msgspec.structs.replace(
        ended.record, response=response(ActivationStatus.INTERNAL_ERROR, {"error": INTERNAL_ERROR}, None), logs=[]
    )
    return replace(ended, record=record, status=ActivationStatus.INTERNAL_ERROR)


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
