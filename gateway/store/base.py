"""The storage protocol: subjects, entities and activation records, independent of the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class EntityKind(StrEnum):
    ACTION = "action"
    TRIGGER = "trigger"
    RULE = "rule"
    PACKAGE = "package"


@dataclass(frozen=True, slots=True)
class Subject:
    """A namespace and its credential. The key itself is never stored, only its hash."""

    namespace: str
    uuid: str
    key_hash: str
    limits: bytes  # JSON object of per-namespace limit overrides, b"{}" when none
    created: int  # epoch ms


@dataclass(frozen=True, slots=True)
class Entity:
    """A stored action, trigger, rule or package.

    `path` is the entity's namespace path: `ns` or `ns/package`. `doc` is its JSON document as the
    gateway encoded it; the store never looks inside. `revision` starts at 1 and grows on every write.
    """

    kind: EntityKind
    namespace: str
    path: str
    name: str
    doc: bytes
    revision: int
    updated: int  # epoch ms


@dataclass(frozen=True, slots=True)
class ActivationRow:
    """A stored activation record.

    `namespace` is the invoking namespace, `name` the entity name as `name` filters see it
    (`action` or `package/action`), `doc` the full record JSON as the gateway encoded it.
    """

    activation_id: str
    namespace: str
    name: str
    start: int  # epoch ms
    end: int  # epoch ms, 0 while unknown (trigger records)
    doc: bytes


@dataclass(frozen=True, slots=True)
class Alarm:
    """A trigger's alarm schedule, kept for the `/whisk.system/alarms` feeds.

    `trigger` is the trigger's `ns/name`; `spec` the schedule as the feed encoded it (the store never
    looks inside); `next_fire` the epoch ms of the next fire, 0 when none is due any more; `active` is
    false while paused; `changed` the epoch ms of the last change of `active`.
    """

    trigger: str
    namespace: str
    spec: bytes
    active: bool
    next_fire: int
    changed: int


@dataclass(frozen=True, slots=True)
class LogForwardingRow:
    """A namespace's log-forwarding destination (Adobe I/O Runtime's `logForwarding`).

    `settings` is the JSON object of its non-secret settings, `secret` the sealed secret (empty when
    the destination has none); the store never looks inside either. `updated` is epoch ms.
    """

    namespace: str
    destination: str
    settings: bytes
    secret: bytes
    updated: int


@dataclass(frozen=True, slots=True)
class Api:
    """A namespace's API gateway API: one Swagger 2.0 document per normalised base path.

    `doc` is the document as the gateway encoded it; the store never looks inside. `revision`
    starts at 1 and grows on every write.
    """

    namespace: str
    base_path: str
    doc: bytes
    revision: int
    updated: int  # epoch ms


class StoreError(Exception):
    """The store failed (disk full, read-only, corrupt). The message says what to do."""


class Conflict(StoreError):
    """A write lost a race: the entity exists (create) or changed since it was read (update)."""


def revision_conflict(what: str, revision: int, expected_revision: int) -> Conflict:
    """The `Conflict` of a write at `expected_revision` to `what`, which is at `revision` now."""
    return Conflict(f"{what} changed since it was read (revision {revision}, expected {expected_revision})")


class Store(Protocol):
    """Storage for one Whisklet instance.

    1. Reads of subjects and entities are served from a cache that every write through this store
       invalidates; a read never returns data older than this store's last completed write.
    2. `put_activation` is batched: it returns at once, and the record is readable through
       `get_activation`/`list_activations` immediately, durable after the next flush (bounded delay)
       or after `flush()` returns. Writes are group-committed: `flush()` writes at once, together with
       everything else pending, so awaiting it costs one transaction, not a batch interval.
    3. Entity names are unique per `(path, name)` across kinds.
    4. All methods are coroutines that never block the event loop.
    """

    async def open(self) -> None: ...

    async def close(self) -> None:
        """Flush pending activations and close the database."""

    # subjects
    async def create_subject(self, namespace: str, uuid: str, key: str, limits: bytes = b"{}") -> Subject: ...

    async def get_subject_by_uuid(self, uuid: str) -> Subject | None: ...

    async def get_subject(self, namespace: str) -> Subject | None: ...

    async def list_subjects(self) -> list[Subject]: ...

    async def delete_subject(self, namespace: str) -> bool: ...

    async def set_subject_limits(self, namespace: str, limits: bytes) -> bool: ...

    # entities
    async def get_entity(self, path: str, name: str) -> Entity | None: ...

    async def put_entity(
        self, kind: EntityKind, path: str, name: str, doc: bytes, updated: int, expected_revision: int | None
    ) -> Entity:
        """Create (`expected_revision=None`; `Conflict` if the name is taken) or replace the entity at
        `expected_revision` (`Conflict` if it is gone or was changed since)."""

    async def delete_entity(self, path: str, name: str, expected_revision: int | None = None) -> Entity | None:
        """Delete and return the entity, or None if absent. `Conflict` if its revision moved."""

    async def list_entities(
        self, kind: EntityKind, namespace: str, path: str | None = None, *, limit: int, skip: int
    ) -> list[Entity]:
        """Entities of `kind` in `namespace` (all its packages included), or only those whose path is
        exactly `path`; newest `updated` first, then newest write. An action's `doc` may lack its
        `exec.code`: lists show no code, and reading it could mean megabytes per action."""

    async def count_entities(self, kind: EntityKind, namespace: str, path: str | None = None) -> int: ...

    # API gateway APIs (routes)
    async def list_apis(self, namespace: str) -> list[Api]:
        """All APIs of `namespace`, by base path; cached like entities (invalidated by writes)."""

    async def put_api(self, api: Api, expected_revision: int | None) -> Api:
        """Create (`expected_revision=None`; `Conflict` if the base path is taken) or replace the API
        at `expected_revision` (`Conflict` if it is gone or changed since). Returns what was stored."""

    async def delete_api(self, namespace: str, base_path: str) -> bool: ...

    # activations
    def put_activation(self, row: ActivationRow) -> bool:
        """Queue the record; it never drops one. True means too many are pending (backpressure): the
        caller must `await flush()` before putting more, and `flush()` raises `StoreError` if the
        records cannot be written (they stay pending)."""

    async def accept(self, row: ActivationRow) -> None:
        """Journal an activation before it starts: `row` is the record to keep should it never end
        (Whisklet killed). Returns once committed; `StoreError` if it cannot be (then nothing is kept).
        The activation's own record, once put, replaces it. Journal rows are not readable."""

    def journal(self, activation_id: str, row: ActivationRow | Callable[[], ActivationRow]) -> None:
        """Queue `row` as the activation's journal row (as `accept`) without waiting for its commit: it
        is committed by the next flush, or dropped unwritten if the activation's own record is put
        first (then the record's commit covers both). `row` may be what builds it: it is then built
        only by a flush that writes it. `StoreError` only if the store is not open."""

    async def recover_interrupted(self) -> int:
        """Store the journalled records of activations accepted by an earlier process that never
        ended; return how many. Called once at start-up by the serving process only."""

    async def take_over_lapsed(self, lapse_ms: int) -> int:
        """Store the journalled records of the activations of every other node whose heartbeat is older
        than `lapse_ms` (it died with them running), each exactly once however many nodes race; return
        how many. Called periodically by serving processes."""

    async def live_nodes(self, lapse_ms: int) -> int:
        """How many nodes (this one included) wrote a heartbeat in the last `lapse_ms`."""

    async def flush(self) -> None: ...

    async def get_activation(self, namespace: str, activation_id: str) -> ActivationRow | None: ...

    async def list_activations(
        self,
        namespace: str,
        *,
        name: str | None,
        since: int | None,
        upto: int | None,
        limit: int,
        skip: int,
        docs: bool = True,
        max_bytes: int | None = None,
    ) -> list[ActivationRow]:
        """Newest `start` first; `since`/`upto` are inclusive bounds on `start`.

        Without `docs`, a row's `doc` may be the record's head only (no `response.result` and no
        `logs`), read without reading the rest. With `max_bytes`, the page ends before the row that
        would take the docs past it (the first row is always returned)."""

    async def count_activations(
        self, namespace: str, *, name: str | None, since: int | None, upto: int | None, skip: int = 0
    ) -> int: ...

    async def prune_activations(self, older_than: int, keep_at_most: int) -> int:
        """Delete records that started before `older_than` (epoch ms), and the oldest beyond
        `keep_at_most` in all; return how many were deleted."""

    # log forwarding
    async def get_log_forwarding(self, namespace: str) -> LogForwardingRow | None:
        """The namespace's destination, None when never set; served from the cache like entities."""

    async def put_log_forwarding(self, row: LogForwardingRow) -> None:
        """Create or replace the namespace's destination."""

    # alarms
    async def put_alarm(self, alarm: Alarm) -> None:
        """Create or replace the alarm of `alarm.trigger`."""

    async def get_alarm(self, trigger: str) -> Alarm | None: ...

    async def delete_alarm(self, trigger: str) -> bool: ...

    async def due_alarms(self, now_ms: int, limit: int) -> list[Alarm]:
        """Active alarms whose `next_fire` is set and not after `now_ms`, soonest first."""

    async def next_alarm_fire(self) -> int | None:
        """The soonest `next_fire` of the active alarms, None when none is set."""

    async def advance_alarm(self, trigger: str, expected_next_fire: int, next_fire: int) -> bool:
        """Move an alarm's `next_fire` on, only if it is still `expected_next_fire` (so a fire is
        claimed exactly once); False when the alarm is gone or was changed meanwhile."""
