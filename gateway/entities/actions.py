"""Action create and update semantics: from a PUT body (and the stored action) to the action to store.

Pure functions, no Starlette and no store. Errors are `ApiError`s with OpenWhisk's messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from gateway.config import LimitsConfig
from gateway.entities.resolve import merge_key_values, parse_qualified_name
from gateway.wire.errors import (
    EXEC_UNDEFINED,
    SEQUENCE_EMPTY,
    ApiError,
    field_too_large,
    malformed,
    unsupported_runtime,
)
from gateway.wire.models import (
    Action,
    ActionLimits,
    ActionLimitsPut,
    ActionPut,
    ActionSummary,
    Exec,
    ExecPut,
    ExecSummary,
    KeyValue,
    Runtime,
    encoder,
)
from pool import NODE_RUNTIMES

SEQUENCE = "sequence"

T = TypeVar("T")

RUNTIMES: Mapping[str, Runtime] = MappingProxyType(
    {r.kind: Runtime(kind=r.kind, image=r.tag, default=r.default, deprecated=r.deprecated, version=r.version)
     for r in NODE_RUNTIMES}
)
"""The kinds Whisklet runs, by kind: the pool's table (`pool/runtime/nodejs/kinds.py`) as `GET /` shows it."""

# With a length divisible by 4, this is base64 (a linear scan: ~0.3 s for 48 MB, the grouped form took 7 s).
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_VERSION = re.compile(r"\A[0-9]{1,9}(\.[0-9]{1,9}){0,2}\Z")

# limits field, its name and unit in messages, the unit suffix of its LimitsConfig bounds
_LIMITS = (
    ("timeout", "duration", " milliseconds", "_ms"),
    ("memory", "memory", " MB", "_mb"),
    ("logs", "log", " MB", "_mb"),
    ("concurrency", "concurrency", "", ""),
)


def create_action(
    put: ActionPut,
    path: str,
    name: str,
    *,
    bounds: LimitsConfig,
    now_ms: int,
    runtimes: Mapping[str, Runtime] = RUNTIMES,
) -> Action:
    """The action a PUT creates at `path`/`name`: exec required, defaults filled in, server annotations added.

    A sequence's components are stored fully qualified, and its parameters are `_actions` = them.
    """
    check_put_sizes(put, bounds)
    exec_ = make_exec(put.exec, runtimes, namespace=path.split("/", 1)[0])
    annotations = merge_key_values(put.annotations or (), [KeyValue("exec", exec_.kind)])
    if not any(item.key == "provide-api-key" for item in annotations):
        annotations.append(KeyValue("provide-api-key", False))
    action = Action(
        namespace=path,
        name=name,
        version=_version(put.version) if put.version else "0.0.1",
        publish=bool(put.publish),
        exec=exec_,
        parameters=_sequence_parameters(exec_) or merge_key_values(put.parameters or ()),
        annotations=annotations,
        limits=make_limits(put.limits, default_limits(bounds), bounds),
        updated=now_ms,
    )
    check_sizes(action, bounds)
    return action


def update_action(
    old: Action,
    put: ActionPut,
    *,
    bounds: LimitsConfig,
    now_ms: int,
    runtimes: Mapping[str, Runtime] = RUNTIMES,
) -> Action:
    """`old` updated field by field: exec and parameters replaced if given, annotations merged after
    `delAnnotations`, limits merged per field, version given or patch + 1, publish given or kept."""
    check_put_sizes(put, bounds)
    namespace = old.namespace.split("/", 1)[0]
    exec_ = old.exec if put.exec is UNSET or put.exec is None else make_exec(put.exec, runtimes, namespace=namespace)
    parameters = old.parameters if put.parameters is UNSET or put.parameters is None else merge_key_values(put.parameters)
    if old.exec.kind == SEQUENCE and exec_.kind != SEQUENCE and (put.parameters is UNSET or put.parameters is None):
        parameters = []  # `_actions` meant nothing to the new kind
    removed = set(put.delAnnotations or ())
    kept = [item for item in old.annotations if item.key not in removed]
    action = msgspec.structs.replace(
        old,
        exec=exec_,
        parameters=_sequence_parameters(exec_) or parameters,
        annotations=merge_key_values(kept, put.annotations or (), [KeyValue("exec", exec_.kind)]),
        limits=make_limits(put.limits, old.limits, bounds),
        version=_version(put.version) if put.version else _next_patch(old.version),
        publish=old.publish if put.publish is UNSET or put.publish is None else put.publish,
        updated=now_ms,
    )
    check_sizes(action, bounds)
    return action


def resolve_kind(kind: str, runtimes: Mapping[str, Runtime] = RUNTIMES) -> str:
    """The stored kind for `kind`: `family:default` becomes that family's default version."""
    kind = kind.strip().lower()
    if kind.endswith(":default"):
        family = kind.removesuffix(":default")
        for runtime in runtimes.values():
            if runtime.default and runtime.kind.split(":", 1)[0] == family:
                return runtime.kind
    if kind in runtimes or kind == SEQUENCE:
        return kind
    raise unsupported_runtime(kind, sorted(runtimes))


def make_exec(put: ExecPut | None | Any, runtimes: Mapping[str, Runtime] = RUNTIMES, *, namespace: str = "_") -> Exec:
    """The stored `exec`; `namespace` replaces `_` in sequence components. Whether the components
    exist is `sequences.check_components`' to say."""
    if put is UNSET or put is None:
        raise ApiError(400, EXEC_UNDEFINED)
    if not isinstance(put.kind, str):
        raise malformed("'kind' must be a string defined in 'exec'")
    kind = resolve_kind(put.kind, runtimes)
    if kind == SEQUENCE:
        return Exec(kind=SEQUENCE, components=_components(put.components, namespace))
    if not isinstance(put.code, str):
        raise malformed(f"'code' must be a string defined in 'exec' for '{kind}' actions")
    main = put.main.strip() if isinstance(put.main, str) else ""
    return Exec(kind=kind, code=put.code, binary=is_base64_archive(put.code), main=main or UNSET)


def is_base64_archive(code: str) -> bool:
    """Whether `code` is a base64-encoded archive rather than source text, as OpenWhisk decides it."""
    code = code.strip()
    return len(code) > 0 and len(code) % 4 == 0 and _BASE64.fullmatch(code) is not None


def default_limits(bounds: LimitsConfig) -> ActionLimits:
    return ActionLimits(
        timeout=bounds.timeout_default_ms,
        memory=bounds.memory_default_mb,
        logs=bounds.logs_default_mb,
        concurrency=bounds.concurrency_default,
    )


def make_limits(put: ActionLimitsPut | None | Any, base: ActionLimits, bounds: LimitsConfig) -> ActionLimits:
    """`base` with each given field replaced, after checking it is in the configured range."""
    if put is UNSET or put is None:
        return base
    changes: dict[str, int] = {}
    for field, label, unit, suffix in _LIMITS:
        value = getattr(put, field)
        if value is UNSET or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise malformed(f"{field} limit must be an integer")
        value = int(value)
        low, high = getattr(bounds, f"{field}_min{suffix}"), getattr(bounds, f"{field}_max{suffix}")
        if value < low:
            raise ApiError(400, f"{label} {value}{unit} below allowed threshold of {low}{unit}")
        if value > high:
            raise ApiError(400, f"{label} {value}{unit} exceeds allowed threshold of {high}{unit}")
        changes[field] = value
    return msgspec.structs.replace(base, **changes)


def check_put_sizes(put: ActionPut, bounds: LimitsConfig) -> None:
    """413 when the PUT's own parameters, annotations or code are over the limits: checked before any
    merge, so that a request refused for its size costs no more than reading it."""
    check_key_values(given_or(put.parameters, []), given_or(put.annotations, []), bounds)
    code = None if put.exec is UNSET or put.exec is None else put.exec.code
    if isinstance(code, str):
        size = len(code.encode())
        if size > bounds.code_max_bytes:
            raise field_too_large("exec", size, bounds.code_max_bytes)


def check_sizes(action: Action, bounds: LimitsConfig) -> None:
    """413 when parameters or annotations exceed `parameters_max_bytes`, or the code `code_max_bytes`."""
    check_key_values(action.parameters, action.annotations, bounds)
    if isinstance(action.exec.code, str):
        size = len(action.exec.code.encode())
        if size > bounds.code_max_bytes:
            raise field_too_large("exec", size, bounds.code_max_bytes)


def check_key_values(parameters: list[KeyValue], annotations: list[KeyValue], bounds: LimitsConfig) -> None:
    """413 when an entity's parameters or annotations exceed `parameters_max_bytes`."""
    for field, items in (("parameters", parameters), ("annotations", annotations)):
        size = sum(len(item.key.encode()) + len(encoder.encode(item.value)) for item in items)
        if size > bounds.parameters_max_bytes:
            raise field_too_large(field, size, bounds.parameters_max_bytes)


def given_or(value: Any, old: T) -> T:
    """A PUT field's new value: the given one, else (absent or null) the old one."""
    return old if value is UNSET or value is None else value


def next_version(given: str | None | Any, old: str | None) -> str:
    """The version a PUT stores: the given one, else the old one's patch + 1, else `0.0.1`."""
    if given:
        return _version(given)
    return "0.0.1" if old is None else _next_patch(old)


def summarize_action(action: Action) -> ActionSummary:
    """The list view: no code and no kind (clients read the kind from the `exec` annotation)."""
    return ActionSummary(
        namespace=action.namespace,
        name=action.name,
        version=action.version,
        publish=action.publish,
        annotations=action.annotations,
        limits=action.limits,
        exec=ExecSummary(binary=action.exec.binary is True),
        updated=action.updated,
    )


def _components(components: list[str] | Any, namespace: str) -> list[str]:
    """Sequence components as `/ns[/pkg]/name`, `_` resolved to `namespace`."""
    if components is UNSET or components is None or components == []:
        raise ApiError(400, SEQUENCE_EMPTY)
    return [str(parse_qualified_name(name, namespace)) for name in components]


def _sequence_parameters(exec_: Exec) -> list[KeyValue]:
    """A sequence's parameters: `_actions` = its components. Empty for other kinds."""
    if exec_.kind != SEQUENCE:
        return []
    return [KeyValue("_actions", list(exec_.components or []))]


def without_code(action: Action) -> Action:
    return msgspec.structs.replace(action, exec=msgspec.structs.replace(action.exec, code=UNSET))


def _version(text: str) -> str:
    """A semantic version `major[.minor[.patch]]`, padded to three numbers."""
    if not _VERSION.match(text):
        raise malformed(f"version '{text}' is not a semantic version (major.minor.patch)")
    parts = [int(part) for part in text.split(".")]
    return ".".join(str(part) for part in [*parts, 0, 0][:3])


def _next_patch(version: str) -> str:
    major, minor, patch = (int(part) for part in _version(version).split("."))
    return f"{major}.{minor}.{patch + 1}"
