"""The SQLite engine's queries, on the engine-neutral cache and write-behind."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.store.base import (
    ActivationRow,
    Alarm,
    Api,
    Conflict,
    Entity,
    EntityKind,
    LogForwardingRow,
    StoreError,
    Subject,
    revision_conflict,
)
from gateway.store.batching import ActivationBatcher, BatchedActivations, Listed, merged_page
from gateway.store.cache import CacheKey, EntityCache, poll_outside_writes
from gateway.store.keys import hash_key
from gateway.store.nodes import HEARTBEAT_S, beat_forever, leave
from gateway.store.sqlite.connection import BUSY_TIMEOUT_MS, connect, data_version, store_error, transaction
from gateway.store.sqlite.readers import Readers

T = TypeVar("T")

_SUBJECT = "SELECT namespace, uuid, key_hash, limits, created FROM subjects"
_ENTITY = "SELECT kind, namespace, path, name, doc, revision, updated FROM entities"
_ACTIVATION = 'SELECT activation_id, namespace, name, start, "end", doc FROM activations'
_NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM entities)"
_HEAD = "CASE WHEN json_valid(?6) THEN CAST(json_remove(?6, '$.response.result', '$.logs') AS BLOB) END"
_ACTION_HEAD = "CASE WHEN json_valid(?1) THEN CAST(json_remove(?1, '$.exec.code') AS BLOB) END"
_ENTITY_HEAD = "SELECT kind, namespace, path, name, COALESCE(head, doc), revision, updated FROM entities"
_API = "SELECT namespace, base_path, doc, revision, updated FROM apis"
_ALARM = "SELECT trigger, namespace, spec, active, next_fire, changed FROM alarms"
_LOG_FORWARDING = "SELECT namespace, destination, settings, secret, updated FROM log_forwarding"


def _subject(row: tuple[Any, ...]) -> Subject:
    return Subject(row[0], row[1], row[2], bytes(row[3]), row[4])


def _entity(row: tuple[Any, ...]) -> Entity:
    return Entity(EntityKind(row[0]), row[1], row[2], row[3], bytes(row[4]), row[5], row[6])


def _alarm(row: tuple[Any, ...]) -> Alarm:
    return Alarm(row[0], row[1], bytes(row[2]), bool(row[3]), row[4], row[5])


def _api(row: tuple[Any, ...]) -> Api:
    return Api(row[0], row[1], bytes(row[2]), row[3], row[4])


def _activation(row: tuple[Any, ...]) -> ActivationRow:
    return ActivationRow(row[0], row[1], row[2], row[3], row[4], bytes(row[5]))



class SqliteStore(BatchedActivations):
    """The `Store` on one SQLite file.

    1. Every write runs on one dedicated thread, one call at a time; a call is a whole unit of work
       (its own transaction), so calls never interleave and the event loop never blocks. Lists and
       counts run on read-only connections beside it (`readers.Readers`).
    2. Subjects (found), entities (found or absent), APIs and log-forwarding settings are cached in
       one `EntityCache` of `cache_size` entries. Writes committed by other processes (the
       `whisklet namespace` commands) are noticed within `external_check_s` (SQLite's
       `data_version`) and empty the cache.
    3. Activation records and journal rows go through an `ActivationBatcher` (write-behind, group
       commit, backoff); `_write_batch` is its one transaction. Journal rows are owned by `node_id`.
    4. A store with a `node_id` (a serving node) writes its heartbeat row at open and every `heartbeat_s`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval_s: float = 0.05,
        max_batch: int = 256,
        max_pending: int = 10000,
        cache_size: int = 4096,
        external_check_s: float = 1.0,
        node_id: str = "",
        heartbeat_s: float = HEARTBEAT_S,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = Path(path)
        self.node_id = node_id
        self._heartbeat_s = heartbeat_s
        self._heart: asyncio.Task[None] | None = None
        self._clock = clock
        self._external_check_s = external_check_s
        self._watcher: asyncio.Task[None] | None = None
        self._cache = EntityCache(cache_size)
        self._batcher = ActivationBatcher(
            self._write_batch, where=str(self.path), flush_interval_s=flush_interval_s, max_batch=max_batch,
            max_pending=max_pending,
        )
        self._db: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._readers: Readers | None = None

    # lifecycle

    async def open(self) -> None:
        if self._db is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisklet-store")
        try:
            self._db = await self._call("opening the store", connect, self.path, opening=True)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._readers = Readers(self.path, BUSY_TIMEOUT_MS)
        if self.node_id:
            await self._beat(started=True)
        self._batcher.start()
        if self.node_id:  # a serving node; not a `whisklet namespace` command
            self._heart = asyncio.create_task(
                beat_forever(self._beat, self._heartbeat_s), name="whisklet-store-heartbeat"
            )
        self._watcher = asyncio.create_task(
            poll_outside_writes(self._cache, self._data_version, self._external_check_s), name="whisklet-store-watcher"
        )

    async def close(self) -> None:
        """Flush pending activations, stop the flusher and close the database.

        If the final flush fails the store is closed all the same and `StoreError` says how many
        activation records were not written.
        """
        if self._db is None:
            return
        watcher, self._watcher = self._watcher, None
        heart, self._heart = self._heart, None
        error = await self._stop_background(watcher, heart)
        if heart is not None and error is None:
            await leave(self._mark_left)
        assert self._executor is not None
        try:
            await self._call("closing the store", self._disconnect)  # waits for the readers first
        except StoreError as exc:
            error = error or exc  # raised once the store's threads are let go
        self._db = None
        self._executor.shutdown(wait=False)
        self._executor = None
        if error is not None:
            raise error

    def _disconnect(self) -> None:
        if self._readers is not None:
            self._readers.close()
        if self._db is not None:
            self._db.close()

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, opening: bool = False) -> T:
        """Run `fn(*args)` on the store's thread; the one edge where SQLite errors become StoreErrors."""
        if self._executor is None or (self._db is None and not opening):
            raise StoreError(f"{what}: the store for {self.path} is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise store_error(self.path, what, exc) from exc

    async def _read(self, namespace: str, what: str, fn: Callable[..., T], *args: Any) -> T:
        """`fn(db, *args)` on a reader connection (`readers.Readers`), not on the writer's thread."""
        if self._readers is None or self._db is None:
            raise StoreError(f"{what}: the store for {self.path} is not open")
        try:
            return await self._readers.run(namespace, fn, *args)
        except sqlite3.Error as exc:
            raise store_error(self.path, what, exc) from exc

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    async def _data_version(self) -> int:
        return await self._call("checking for outside writes", lambda: data_version(self._conn()))

    async def _cached_read(
        self, key: CacheKey, what: str, fn: Callable[..., T], *args: Any, cache_none: bool
    ) -> T:
        return await self._cache.read(key, lambda: self._call(what, fn, *args), cache_none=cache_none)

    async def _write(self, keys: Sequence[CacheKey], what: str, fn: Callable[..., T], *args: Any) -> T:
        return await self._cache.write(keys, lambda: self._call(what, fn, *args))

    # subjects

    async def create_subject(self, namespace: str, uuid: str, key: str, limits: bytes = b"{}") -> Subject:
        subject = Subject(namespace, uuid, hash_key(key), bytes(limits), self._clock.wall_ms())

        def insert() -> None:
            try:
                self._conn().execute(
                    "INSERT INTO subjects (namespace, uuid, key_hash, limits, created) VALUES (?, ?, ?, ?, ?)",
                    (subject.namespace, subject.uuid, subject.key_hash, subject.limits, subject.created),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"namespace {namespace} or its uuid already exists") from None

        await self._write([("ns", namespace), ("uuid", uuid)], f"creating namespace {namespace}", insert)
        return subject

    async def get_subject_by_uuid(self, uuid: str) -> Subject | None:
        # Misses are not cached: uuids arrive unauthenticated and must not be able to flush the cache.
        return await self._cached_read(
            ("uuid", uuid), "reading a namespace", self._select_subject, "uuid", uuid, cache_none=False
        )

    async def get_subject(self, namespace: str) -> Subject | None:
        return await self._cached_read(
            ("ns", namespace), f"reading namespace {namespace}", self._select_subject, "namespace", namespace,
            cache_none=False,
        )

    def _select_subject(self, column: str, value: str) -> Subject | None:
        row = self._conn().execute(f"{_SUBJECT} WHERE {column} = ?", (value,)).fetchone()
        return None if row is None else _subject(row)

    async def list_subjects(self) -> list[Subject]:
        def select() -> list[Subject]:
            return [_subject(r) for r in self._conn().execute(f"{_SUBJECT} ORDER BY namespace")]

        return await self._call("listing namespaces", select)

    async def delete_subject(self, namespace: str) -> bool:
        def delete() -> str | None:
            db = self._conn()
            with transaction(db):
                row = db.execute("DELETE FROM subjects WHERE namespace = ? RETURNING uuid", (namespace,)).fetchone()
                db.execute("DELETE FROM log_forwarding WHERE namespace = ?", (namespace,))
            return None if row is None else row[0]

        keys = [("ns", namespace), ("logfwd", namespace)]
        uuid = await self._write(keys, f"deleting namespace {namespace}", delete)
        if uuid is not None:
            self._cache.forget(("uuid", uuid))
        return uuid is not None

    async def set_subject_limits(self, namespace: str, limits: bytes) -> bool:
        def update() -> str | None:
            row = self._conn().execute(
                "UPDATE subjects SET limits = ? WHERE namespace = ? RETURNING uuid", (bytes(limits), namespace)
            ).fetchone()
            return None if row is None else row[0]

        uuid = await self._write([("ns", namespace)], f"setting the limits of namespace {namespace}", update)
        if uuid is not None:
            self._cache.forget(("uuid", uuid))
        return uuid is not None

    # entities

    async def get_entity(self, path: str, name: str) -> Entity | None:
        return await self._cached_read(
            ("entity", path, name), f"reading {path}/{name}", self._select_entity, path, name, cache_none=True
        )

    def _select_entity(self, path: str, name: str) -> Entity | None:
        row = self._conn().execute(f"{_ENTITY} WHERE path = ? AND name = ?", (path, name)).fetchone()
        return None if row is None else _entity(row)

    async def put_entity(
        self, kind: EntityKind, path: str, name: str, doc: bytes, updated: int, expected_revision: int | None
    ) -> Entity:
        """Create (`expected_revision=None`; `Conflict` if the name is taken) or replace the entity at
        `expected_revision` (`Conflict` if it is gone, was changed since, or is of another kind)."""
        revision = 1 if expected_revision is None else expected_revision + 1
        entity = Entity(kind, path.split("/", 1)[0], path, name, bytes(doc), revision, updated)
        head = _ACTION_HEAD if kind == EntityKind.ACTION else "NULL"

        def write() -> None:
            db = self._conn()
            if expected_revision is None:
                try:
                    db.execute(
                        "INSERT INTO entities (doc, path, name, kind, namespace, revision, updated, seq, head)"
                        f" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {_NEXT_SEQ}, {head})",
                        (entity.doc, path, name, kind.value, entity.namespace, revision, updated),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"{path}/{name} already exists") from None
                return
            with transaction(db):
                current = self._select_entity(path, name)
                if current is None:
                    raise Conflict(f"{path}/{name} does not exist any more")
                if current.kind != kind:
                    raise Conflict(f"{path}/{name} is a {current.kind.value}, not a {kind.value}")
                if current.revision != expected_revision:
                    raise revision_conflict(f"{path}/{name}", current.revision, expected_revision)
                db.execute(
                    f"UPDATE entities SET doc = ?1, revision = ?2, updated = ?3, seq = {_NEXT_SEQ}, head = {head}"
                    " WHERE path = ?4 AND name = ?5",
                    (entity.doc, revision, updated, path, name),
                )

        await self._write([("entity", path, name)], f"writing {path}/{name}", write)
        return entity

    async def delete_entity(self, path: str, name: str, expected_revision: int | None = None) -> Entity | None:
        def delete() -> Entity | None:
            db = self._conn()
            with transaction(db):
                current = self._select_entity(path, name)
                if current is None:
                    return None
                if expected_revision is not None and current.revision != expected_revision:
                    raise revision_conflict(f"{path}/{name}", current.revision, expected_revision)
                db.execute("DELETE FROM entities WHERE path = ? AND name = ?", (path, name))
                return current

        return await self._write([("entity", path, name)], f"deleting {path}/{name}", delete)

    async def list_entities(
        self, kind: EntityKind, namespace: str, path: str | None = None, *, limit: int, skip: int
    ) -> list[Entity]:
        where, args = self._entity_filter(kind, namespace, path)

        def select(db: sqlite3.Connection) -> list[Entity]:
            rows = db.execute(
                f"{_ENTITY_HEAD} WHERE {where} ORDER BY updated DESC, seq DESC LIMIT ? OFFSET ?",
                (*args, max(limit, 0), max(skip, 0)),
            )
            return [_entity(r) for r in rows]

        return await self._read(namespace, f"listing {kind.value}s of {path or namespace}", select)

    async def count_entities(self, kind: EntityKind, namespace: str, path: str | None = None) -> int:
        where, args = self._entity_filter(kind, namespace, path)

        def count(db: sqlite3.Connection) -> int:
            return int(db.execute(f"SELECT COUNT(*) FROM entities WHERE {where}", args).fetchone()[0])

        return await self._read(namespace, f"counting {kind.value}s of {path or namespace}", count)

    @staticmethod
    def _entity_filter(kind: EntityKind, namespace: str, path: str | None) -> tuple[str, tuple[str, ...]]:
        if path is None:
            return "kind = ? AND namespace = ?", (kind.value, namespace)
        return "kind = ? AND path = ?", (kind.value, path)

    # API gateway APIs (routes)

    async def list_apis(self, namespace: str) -> list[Api]:
        def select() -> list[Api]:
            rows = self._conn().execute(f"{_API} WHERE namespace = ? ORDER BY base_path", (namespace,))
            return [_api(r) for r in rows]

        return await self._cached_read(
            ("apis", namespace), f"reading the APIs of {namespace}", select, cache_none=False
        )

    async def put_api(self, api: Api, expected_revision: int | None) -> Api:
        revision = 1 if expected_revision is None else expected_revision + 1
        stored = Api(api.namespace, api.base_path, bytes(api.doc), revision, api.updated)
        where = f"API {api.base_path} of {api.namespace}"

        def write() -> None:
            db = self._conn()
            args = (stored.doc, stored.revision, stored.updated, stored.namespace, stored.base_path)
            if expected_revision is None:
                try:
                    db.execute(
                        "INSERT INTO apis (doc, revision, updated, namespace, base_path) VALUES (?, ?, ?, ?, ?)", args
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"the {where} already exists") from None
                return
            changed = db.execute(
                "UPDATE apis SET doc = ?, revision = ?, updated = ?"
                " WHERE namespace = ? AND base_path = ? AND revision = ?",
                (*args, expected_revision),
            ).rowcount
            if changed != 1:
                raise Conflict(f"the {where} changed since it was read")

        await self._write([("apis", api.namespace)], f"writing the {where}", write)
        return stored

    async def delete_api(self, namespace: str, base_path: str) -> bool:
        def delete() -> bool:
            return self._conn().execute(
                "DELETE FROM apis WHERE namespace = ? AND base_path = ?", (namespace, base_path)
            ).rowcount > 0

        return await self._write([("apis", namespace)], f"deleting the API {base_path} of {namespace}", delete)

    # activations

    async def _beat(self, *, started: bool = False) -> None:
        """This node's heartbeat row: `started` at open, `heartbeat` now."""
        now = self._clock.wall_ms()

        def write() -> None:
            self._conn().execute(
                "INSERT INTO nodes (node_id, started, heartbeat) VALUES (?1, ?2, ?2) ON CONFLICT (node_id)"
                f" DO UPDATE SET heartbeat = ?2{', started = ?2' if started else ''}",
                (self.node_id, now),
            )

        await self._call(f"writing the heartbeat of node {self.node_id!r}", write)

    async def _mark_left(self) -> None:
        """This node's heartbeat row says it left (0): the other nodes stop counting it at once."""

        def write() -> None:
            self._conn().execute("UPDATE nodes SET heartbeat = 0 WHERE node_id = ?", (self.node_id,))

        await self._call(f"writing that node {self.node_id!r} left", write)

    async def recover_interrupted(self) -> int:
        """Store the journalled record of every activation this node (or a Whisklet from before node
        ids) accepted in an earlier process but never ended; return how many. Other nodes' journal rows
        are left alone. Only the process that serves may call this."""
        return await self._move_journal("recording interrupted activations", "node IN (?, '')", self.node_id)

    async def take_over_lapsed(self, lapse_ms: int) -> int:
        """Store the journalled records of the activations of every other node whose heartbeat is older
        than `lapse_ms`; return how many (a file shared by nodes is rare, a node id changed is not)."""
        cutoff = self._clock.wall_ms() - lapse_ms
        return await self._move_journal(
            "taking over the activations of lapsed nodes",
            "node IN (SELECT node_id FROM nodes WHERE heartbeat < ? AND node_id <> ?)", cutoff, self.node_id,
        )

    async def live_nodes(self, lapse_ms: int) -> int:
        def count() -> int:
            cutoff = self._clock.wall_ms() - lapse_ms
            return int(self._conn().execute("SELECT COUNT(*) FROM nodes WHERE heartbeat >= ?", (cutoff,)).fetchone()[0])

        return await self._call("counting the live nodes", count)

    async def _move_journal(self, what: str, where: str, *args: Any) -> int:
        """Journal rows matching `where` become their activations' records, in one write transaction."""

        def move() -> int:
            db = self._conn()
            with transaction(db):
                moved = db.execute(
                    'INSERT OR IGNORE INTO activations (activation_id, namespace, name, start, "end", doc)'
                    f' SELECT activation_id, namespace, name, start, "end", doc FROM accepted WHERE {where}',
                    args,
                ).rowcount
                db.execute(f"DELETE FROM accepted WHERE {where}", args)
            return moved

        return await self._call(what, move)

    async def _write_batch(
        self, rows: list[ActivationRow], accepted: list[ActivationRow], committed: Callable[[], object]
    ) -> None:
        what = f"writing {len(rows) + len(accepted)} activation records"
        await self._call(what, self._insert_activations, rows, accepted, committed)

    def _insert_activations(
        self, rows: list[ActivationRow], accepted: list[ActivationRow], committed: Callable[[], object]
    ) -> None:
        """On the store's thread: one transaction; `committed` is called once it has committed."""
        db = self._conn()
        with transaction(db):
            if accepted:
                db.executemany(
                    'INSERT OR REPLACE INTO accepted (activation_id, namespace, name, start, "end", doc, node)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.activation_id, r.namespace, r.name, r.start, r.end, r.doc, self.node_id) for r in accepted],
                )
            if rows:
                db.executemany(
                    'INSERT OR REPLACE INTO activations (activation_id, namespace, name, start, "end", doc, head)'
                    f" VALUES (?1, ?2, ?3, ?4, ?5, ?6, {_HEAD})",
                    [(r.activation_id, r.namespace, r.name, r.start, r.end, r.doc) for r in rows],
                )
                db.executemany("DELETE FROM accepted WHERE activation_id = ?", [(r.activation_id,) for r in rows])
        committed()

    async def get_activation(self, namespace: str, activation_id: str) -> ActivationRow | None:
        row = self._batcher.pending.get(activation_id)
        if row is not None:
            return row if row.namespace == namespace else None

        def select(db: sqlite3.Connection) -> ActivationRow | None:
            found = db.execute(
                f"{_ACTIVATION} WHERE activation_id = ? AND namespace = ?", (activation_id, namespace)
            ).fetchone()
            return None if found is None else _activation(found)

        return await self._read(namespace, f"reading activation {activation_id}", select)

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
        """Newest `start` first (ties by activation id); `since`/`upto` are inclusive bounds on `start`.
        Pending records are merged in; a pending record replaces a stored one with the same id.

        Without `docs`, a stored row's `doc` is the record's head (no `response.result`, no `logs`):
        what a summary needs, read without reading the rest. With `max_bytes`, the page ends before
        the row that would take the docs past it; the first row is always returned. Sizes are read
        first (SQLite knows them without reading the records), then only the docs of the page.
        """
        limit, skip = max(limit, 0), max(skip, 0)
        pending, where, args = self._activation_filter(namespace, name, since, upto)
        size = "length(doc)" if docs else "COALESCE(length(head), length(doc))"
        column = "doc" if docs else "COALESCE(head, doc)"

        offset = 0 if pending else skip  # with none pending, SQLite skips; else the merge needs all before

        def select(db: sqlite3.Connection) -> list[ActivationRow]:
            sized = db.execute(
                f"SELECT activation_id, start, {size} FROM activations WHERE {where}"
                " ORDER BY start DESC, activation_id LIMIT ? OFFSET ?",
                (*args, skip + limit - offset, offset),
            ).fetchall()
            stored = [Listed(start, aid, size) for aid, start, size in sized]
            page = merged_page(stored, pending, skip=skip, limit=limit, max_bytes=max_bytes)
            wanted = [entry.activation_id for entry in page if entry.row is None]
            docs_by_id: dict[str, ActivationRow] = {}
            if wanted:
                rows = db.execute(
                    f'SELECT activation_id, namespace, name, start, "end", {column} FROM activations'
                    " WHERE activation_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
                docs_by_id = {row[0]: _activation(row) for row in rows}
            found = (entry.row or docs_by_id.get(entry.activation_id) for entry in page)
            return [row for row in found if row is not None]  # a stored row pruned meanwhile is left out

        return await self._read(namespace, f"listing activations of {namespace}", select)

    async def count_activations(
        self, namespace: str, *, name: str | None, since: int | None, upto: int | None, skip: int = 0
    ) -> int:
        pending, where, args = self._activation_filter(namespace, name, since, upto)

        def count(db: sqlite3.Connection) -> int:
            return int(db.execute(f"SELECT COUNT(*) FROM activations WHERE {where}", args).fetchone()[0])

        stored = await self._read(namespace, f"counting activations of {namespace}", count)
        return max(stored + len(pending) - max(skip, 0), 0)

    def _activation_filter(
        self, namespace: str, name: str | None, since: int | None, upto: int | None
    ) -> tuple[list[ActivationRow], str, tuple[Any, ...]]:
        """The pending rows that match, and the SQL filter for stored rows not shadowed by pending ones.

        Taken before the query is sent: a row missing from this snapshot was committed before the
        query ran, so the query sees it; a row in it is excluded from the query, so none is counted twice.
        """
        clauses, args = ["namespace = ?"], list[Any]([namespace])
        if name is not None:
            clauses.append("name = ?")
            args.append(name)
        if since is not None:
            clauses.append("start >= ?")
            args.append(since)
        if upto is not None:
            clauses.append("start <= ?")
            args.append(upto)
        if self._batcher.pending:
            clauses.append("activation_id NOT IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(self._batcher.pending)))
        return self._batcher.matching(namespace, name, since, upto), " AND ".join(clauses), tuple(args)

    async def prune_activations(self, older_than: int, keep_at_most: int) -> int:
        """Delete records that started before `older_than` (epoch ms), and the oldest beyond
        `keep_at_most` in all; return how many were deleted. Pending records are flushed first."""
        await self.flush()

        def prune() -> int:
            db = self._conn()
            with transaction(db):
                aged = db.execute("DELETE FROM activations WHERE start < ?", (older_than,)).rowcount
                excess = db.execute(
                    "DELETE FROM activations WHERE activation_id IN (SELECT activation_id FROM activations"
                    " ORDER BY start DESC, activation_id LIMIT -1 OFFSET ?)",
                    (max(keep_at_most, 0),),
                ).rowcount
            return aged + excess

        return await self._call("pruning activation records", prune)

    # log forwarding

    async def get_log_forwarding(self, namespace: str) -> LogForwardingRow | None:
        def select() -> LogForwardingRow | None:
            row = self._conn().execute(f"{_LOG_FORWARDING} WHERE namespace = ?", (namespace,)).fetchone()
            return None if row is None else LogForwardingRow(row[0], row[1], bytes(row[2]), bytes(row[3]), row[4])

        return await self._cached_read(
            ("logfwd", namespace), f"reading the log forwarding of namespace {namespace}", select, cache_none=True
        )

    async def put_log_forwarding(self, row: LogForwardingRow) -> None:
        def write() -> None:
            self._conn().execute(
                "INSERT OR REPLACE INTO log_forwarding (namespace, destination, settings, secret, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                (row.namespace, row.destination, bytes(row.settings), bytes(row.secret), row.updated),
            )

        await self._write(
            [("logfwd", row.namespace)], f"writing the log forwarding of namespace {row.namespace}", write
        )

    # alarms

    async def put_alarm(self, alarm: Alarm) -> None:
        def write() -> None:
            self._conn().execute(
                "INSERT OR REPLACE INTO alarms (trigger, namespace, spec, active, next_fire, changed)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (alarm.trigger, alarm.namespace, bytes(alarm.spec), int(alarm.active), alarm.next_fire, alarm.changed),
            )

        await self._call(f"writing the alarm of trigger {alarm.trigger}", write)

    async def get_alarm(self, trigger: str) -> Alarm | None:
        def select() -> Alarm | None:
            row = self._conn().execute(f"{_ALARM} WHERE trigger = ?", (trigger,)).fetchone()
            return None if row is None else _alarm(row)

        return await self._call(f"reading the alarm of trigger {trigger}", select)

    async def delete_alarm(self, trigger: str) -> bool:
        def delete() -> bool:
            return self._conn().execute("DELETE FROM alarms WHERE trigger = ?", (trigger,)).rowcount > 0

        return await self._call(f"deleting the alarm of trigger {trigger}", delete)

    async def due_alarms(self, now_ms: int, limit: int) -> list[Alarm]:
        def select() -> list[Alarm]:
            rows = self._conn().execute(
                f"{_ALARM} WHERE active AND next_fire > 0 AND next_fire <= ? ORDER BY next_fire LIMIT ?",
                (now_ms, max(limit, 0)),
            )
            return [_alarm(r) for r in rows]

        return await self._call("reading the alarms due", select)

    async def next_alarm_fire(self) -> int | None:
        def select() -> int | None:
            found = self._conn().execute("SELECT MIN(next_fire) FROM alarms WHERE active AND next_fire > 0").fetchone()
            return None if found[0] is None else int(found[0])

        return await self._call("reading the next alarm", select)

    async def advance_alarm(self, trigger: str, expected_next_fire: int, next_fire: int) -> bool:
        def update() -> bool:
            return self._conn().execute(
                "UPDATE alarms SET next_fire = ? WHERE trigger = ? AND next_fire = ?",
                (next_fire, trigger, expected_next_fire),
            ).rowcount == 1

        return await self._call(f"moving on the alarm of trigger {trigger}", update)
