"""The PostgreSQL engine's queries, on the engine-neutral cache and write-behind."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped,unused-ignore]

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
from gateway.store.cache import CacheKey, EntityCache
from gateway.store.keys import hash_key
from gateway.store.nodes import HEARTBEAT_S, beat_forever, leave
from gateway.store.postgresql.connection import CONNECT_TIMEOUT_S, POOL_SIZE, open_pool, store_error
from gateway.store.postgresql.schema import migrate
from gateway.store.turns import NamespaceTurns

log = logging.getLogger("whisklet.store")

T = TypeVar("T")

LISTENER_NAME = "whisklet-listener"
"""The `application_name` of the connection that listens for changes."""

LISTENER_CHECK_S = 5.0
"""The listening connection must answer a query this often, within as long: one lost without a word (a
silent network partition, a frozen server process) is replaced, so other nodes' changes are missed at most
about twice this long, and then the cache is emptied."""

CHANGES_CHANNEL = "whisklet_changes"
"""Every write to a cached table notifies this channel (payload: the writing store's token), in its transaction."""

_SUBJECT = "SELECT namespace, uuid, key_hash, limits, created FROM subjects"
_ENTITY = "SELECT kind, namespace, path, name, doc, revision, updated FROM entities"
_ENTITY_HEAD = "SELECT kind, namespace, path, name, COALESCE(head, doc), revision, updated FROM entities"
_ACTIVATION = 'SELECT activation_id, namespace, name, start, "end", doc FROM activations'
_API = "SELECT namespace, base_path, doc, revision, updated FROM apis"
_ALARM = "SELECT trigger, namespace, spec, active, next_fire, changed FROM alarms"
_LOG_FORWARDING = "SELECT namespace, destination, settings, secret, updated FROM log_forwarding"

# One statement, so one round trip and one transaction: journal rows in, records in (each replacing
# a record of its id), the records' journal rows out. The sibling statements see the same snapshot, so
# the DELETE cannot see rows the first INSERT adds: a journal row whose record is in the same batch (it
# was journalled after its record was put) is left out instead, as SQLite's INSERT then DELETE leaves it.
_WRITE_BATCH = """
WITH journal AS (
    INSERT INTO accepted (activation_id, namespace, name, start, "end", doc, node)
    SELECT j.*, $13::text FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bytea[])
        AS j(activation_id, namespace, name, start, "end", doc)
    WHERE j.activation_id <> ALL($7::text[])
    ON CONFLICT (activation_id) DO UPDATE SET namespace = EXCLUDED.namespace, name = EXCLUDED.name,
        start = EXCLUDED.start, "end" = EXCLUDED."end", doc = EXCLUDED.doc, node = EXCLUDED.node
), records AS (
    INSERT INTO activations (activation_id, namespace, name, start, "end", doc, head)
    SELECT r.*, whisklet_head(r.doc, 'response.result', 'logs')
    FROM unnest($7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bytea[])
        AS r(activation_id, namespace, name, start, "end", doc)
    ON CONFLICT (activation_id) DO UPDATE SET namespace = EXCLUDED.namespace, name = EXCLUDED.name,
        start = EXCLUDED.start, "end" = EXCLUDED."end", doc = EXCLUDED.doc, head = EXCLUDED.head
), ended AS (
    DELETE FROM accepted WHERE activation_id = ANY($7::text[])
)
SELECT 1
"""


def _subject(row: Sequence[Any]) -> Subject:
    return Subject(row[0], row[1], row[2], bytes(row[3]), row[4])


def _entity(row: Sequence[Any]) -> Entity:
    return Entity(EntityKind(row[0]), row[1], row[2], row[3], bytes(row[4]), row[5], row[6])


def _alarm(row: Sequence[Any]) -> Alarm:
    return Alarm(row[0], row[1], bytes(row[2]), bool(row[3]), row[4], row[5])


def _api(row: Sequence[Any]) -> Api:
    return Api(row[0], row[1], bytes(row[2]), row[3], row[4])


def _activation(row: Sequence[Any]) -> ActivationRow:
    return ActivationRow(row[0], row[1], row[2], row[3], row[4], bytes(row[5]))


def _columns(rows: list[ActivationRow]) -> list[list[Any]]:
    return [
        [r.activation_id for r in rows], [r.namespace for r in rows], [r.name for r in rows],
        [r.start for r in rows], [r.end for r in rows], [r.doc for r in rows],
    ]


class PostgresStore(BatchedActivations):
    """The `Store` on a PostgreSQL database, shared by every node that names it.

    1. Queries run on a pool of `pool_size` connections; activation batches on a connection of their
       own, so lists and entity reads never queue a journal commit behind them. Lists, counts and
       activation reads take turns per namespace (`turns.NamespaceTurns`), so one namespace cannot
       hold every pooled connection. Every statement is bounded by `connection.COMMAND_TIMEOUT_S`.
    2. Subjects, entities, APIs and log-forwarding settings are cached in an `EntityCache`. Every
       write to them notifies `CHANGES_CHANNEL` in its own transaction; a listening connection empties
       the cache when another store (another node, or a `whisklet namespace` command) committed one.
       While that connection is down, reads go to the database; it is reconnected every `reconnect_s`.
       It must answer a query every `listener_check_s`: one that goes silent is replaced the same way.
    3. Activation records and journal rows go through an `ActivationBatcher`; each batch is one
       statement (`_WRITE_BATCH`: unnest arrays), so one round trip and one transaction, committed
       durably (synchronous_commit) before `flush()` and `accept()` return. Journal rows are owned by
       `node_id`; `recover_interrupted` takes only this node's.
    4. A store with a `node_id` (a serving node) writes its heartbeat row at open and every `heartbeat_s`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        shown: str = "the PostgreSQL database",
        flush_interval_s: float = 0.05,
        max_batch: int = 256,
        max_pending: int = 10000,
        cache_size: int = 4096,
        pool_size: int = POOL_SIZE,
        reconnect_s: float = 1.0,
        listener_check_s: float = LISTENER_CHECK_S,
        node_id: str = "",
        heartbeat_s: float = HEARTBEAT_S,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._dsn = dsn
        self.node_id = node_id
        self._heartbeat_s = heartbeat_s
        self._heart: asyncio.Task[None] | None = None
        self.shown = shown
        self._clock = clock
        self._pool_size = pool_size
        self._reconnect_s = reconnect_s
        self._listener_check_s = listener_check_s
        self._token = secrets.token_hex(8)  # tells this store's own notifications from others'
        self._cache = EntityCache(cache_size)
        self._listening = False
        self._batcher = ActivationBatcher(
            self._write_batch, where=shown, flush_interval_s=flush_interval_s, max_batch=max_batch,
            max_pending=max_pending,
        )
        self._pool: asyncpg.Pool | None = None
        self._writer: asyncpg.Pool | None = None
        self._listener: asyncio.Task[None] | None = None
        self._turns = NamespaceTurns()

    # lifecycle

    async def open(self) -> None:
        if self._pool is not None:
            return
        listening: tuple[asyncpg.Connection, asyncio.Event] | None = None
        try:
            self._writer = await open_pool(self._dsn, 1)
            async with self._writer.acquire() as db:
                await migrate(db, self.shown)
            self._pool = await open_pool(self._dsn, self._pool_size)
            listening = await self._listen()
            if self.node_id:
                await self._beat(started=True)
        except Exception as exc:
            if listening is not None:
                listening[0].terminate()
            self._listening = False
            await self._close_pools()
            raise store_error(self.shown, "opening the store", exc) from exc
        self._batcher.start()
        if self.node_id:  # a serving node; not a `whisklet namespace` command
            self._heart = asyncio.create_task(
                beat_forever(self._beat, self._heartbeat_s), name="whisklet-store-heartbeat"
            )
        self._listener = asyncio.create_task(self._keep_listening(*listening), name="whisklet-store-listener")

    async def close(self) -> None:
        """Flush pending activations, stop the flusher and close the connections.

        If the final flush fails the store is closed all the same and `StoreError` says how many
        activation records were not written.
        """
        if self._pool is None:
            return
        listener, self._listener = self._listener, None
        heart, self._heart = self._heart, None
        error = await self._stop_background(listener, heart)
        if heart is not None and error is None:
            await leave(self._mark_left)
        await self._close_pools()
        if error is not None:
            raise error

    async def _close_pools(self) -> None:
        pools = [p for p in (self._pool, self._writer) if p is not None]
        self._pool = self._writer = None
        for pool in pools:
            try:
                async with asyncio.timeout(10):
                    await pool.close()
            except (TimeoutError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                pool.terminate()

    async def _call(self, what: str, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, writer: bool = False) -> T:
        """`fn(connection)` on a pooled connection; the one edge where PostgreSQL errors become StoreErrors."""
        pool = self._writer if writer else self._pool
        if pool is None:
            raise StoreError(f"{what}: the store for {self.shown} is not open")
        try:
            async with pool.acquire() as db:
                return await fn(db)
        except (Conflict, StoreError):
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise store_error(self.shown, what, exc) from exc

    async def _read(self, namespace: str, what: str, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """A list, count or activation read, in `namespace`'s turn (`turns.NamespaceTurns`): one namespace's
        heavy reads never hold every pooled connection."""
        async with self._turns.turn(namespace):
            return await self._call(what, fn)

    async def _write(self, keys: Sequence[CacheKey], what: str, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """A write to a cached table: one transaction that also tells the other stores to drop their caches."""

        async def write(db: asyncpg.Connection) -> T:
            async with db.transaction():
                result = await fn(db)
                await db.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, self._token)
            return result

        return await self._cache.write(keys, lambda: self._call(what, write))

    async def _cached_read(
        self, key: CacheKey, what: str, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, cache_none: bool
    ) -> T:
        if not self._listening:  # changes elsewhere would go unnoticed: read through
            self._cache.outside_write()
        return await self._cache.read(key, lambda: self._call(what, fn), cache_none=cache_none)

    async def _listen(self) -> tuple[asyncpg.Connection, asyncio.Event]:
        """A connection listening on `CHANGES_CHANNEL`, and the event set when it is lost."""
        lost = asyncio.Event()
        db = await asyncpg.connect(
            self._dsn, timeout=CONNECT_TIMEOUT_S, server_settings={"application_name": LISTENER_NAME}
        )
        try:
            db.add_termination_listener(lambda _db: lost.set())
            await db.add_listener(CHANGES_CHANNEL, self._changed)
        except BaseException:
            db.terminate()
            raise
        self._cache.outside_write()  # what changed while nobody listened
        self._listening = True
        return db, lost

    def _changed(self, _db: object, _pid: int, _channel: str, payload: object) -> None:
        if payload != self._token:
            self._cache.outside_write()

    async def _until_lost(self, db: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return once the listening connection is lost, or fails to answer a check within `listener_check_s`."""
        while True:
            try:
                async with asyncio.timeout(self._listener_check_s):
                    await lost.wait()
                return
            except TimeoutError:
                pass
            try:
                await db.fetchval("SELECT 1", timeout=self._listener_check_s)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                return

    async def _keep_listening(self, db: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Wait for the listening connection to drop, then reconnect every `reconnect_s` until it is back."""
        failing = False
        while True:
            try:
                await self._until_lost(db, lost)
                log.warning("the connection listening for changes on %s was lost; reconnecting", self.shown)
            finally:
                self._listening = False
                self._cache.outside_write()
                db.terminate()
            while not self._listening:
                await asyncio.sleep(self._reconnect_s)
                try:
                    db, lost = await self._listen()
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                    if not failing:
                        log.warning("listening for changes on %s failed (%s): reads bypass the cache", self.shown, exc)
                    failing = True
            if failing:
                log.warning("listening for changes on %s again: reads are cached", self.shown)
                failing = False

    # subjects

    async def create_subject(self, namespace: str, uuid: str, key: str, limits: bytes = b"{}") -> Subject:
        subject = Subject(namespace, uuid, hash_key(key), bytes(limits), self._clock.wall_ms())

        async def insert(db: asyncpg.Connection) -> None:
            try:
                await db.execute(
                    "INSERT INTO subjects (namespace, uuid, key_hash, limits, created) VALUES ($1, $2, $3, $4, $5)",
                    subject.namespace, subject.uuid, subject.key_hash, subject.limits, subject.created,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict(f"namespace {namespace} or its uuid already exists") from None

        await self._write([("ns", namespace), ("uuid", uuid)], f"creating namespace {namespace}", insert)
        return subject

    async def get_subject_by_uuid(self, uuid: str) -> Subject | None:
        # Misses are not cached: uuids arrive unauthenticated and must not be able to flush the cache.
        return await self._cached_read(
            ("uuid", uuid), "reading a namespace", lambda db: self._select_subject(db, "uuid", uuid), cache_none=False
        )

    async def get_subject(self, namespace: str) -> Subject | None:
        return await self._cached_read(
            ("ns", namespace), f"reading namespace {namespace}",
            lambda db: self._select_subject(db, "namespace", namespace), cache_none=False,
        )

    @staticmethod
    async def _select_subject(db: asyncpg.Connection, column: str, value: str) -> Subject | None:
        row = await db.fetchrow(f"{_SUBJECT} WHERE {column} = $1", value)
        return None if row is None else _subject(row)

    async def list_subjects(self) -> list[Subject]:
        async def select(db: asyncpg.Connection) -> list[Subject]:
            return [_subject(r) for r in await db.fetch(f"{_SUBJECT} ORDER BY namespace")]

        return await self._call("listing namespaces", select)

    async def delete_subject(self, namespace: str) -> bool:
        async def delete(db: asyncpg.Connection) -> str | None:
            uuid: str | None = await db.fetchval("DELETE FROM subjects WHERE namespace = $1 RETURNING uuid", namespace)
            await db.execute("DELETE FROM log_forwarding WHERE namespace = $1", namespace)
            return uuid

        keys = [("ns", namespace), ("logfwd", namespace)]
        uuid = await self._write(keys, f"deleting namespace {namespace}", delete)
        if uuid is not None:
            self._cache.forget(("uuid", uuid))
        return uuid is not None

    async def set_subject_limits(self, namespace: str, limits: bytes) -> bool:
        async def update(db: asyncpg.Connection) -> str | None:
            uuid: str | None = await db.fetchval(
                "UPDATE subjects SET limits = $1 WHERE namespace = $2 RETURNING uuid", bytes(limits), namespace
            )
            return uuid

        uuid = await self._write([("ns", namespace)], f"setting the limits of namespace {namespace}", update)
        if uuid is not None:
            self._cache.forget(("uuid", uuid))
        return uuid is not None

    # entities

    async def get_entity(self, path: str, name: str) -> Entity | None:
        return await self._cached_read(
            ("entity", path, name), f"reading {path}/{name}", lambda db: self._select_entity(db, path, name),
            cache_none=True,
        )

    @staticmethod
    async def _select_entity(db: asyncpg.Connection, path: str, name: str, *, lock: bool = False) -> Entity | None:
        row = await db.fetchrow(f"{_ENTITY} WHERE path = $1 AND name = $2{' FOR UPDATE' if lock else ''}", path, name)
        return None if row is None else _entity(row)

    async def put_entity(
        self, kind: EntityKind, path: str, name: str, doc: bytes, updated: int, expected_revision: int | None
    ) -> Entity:
        """Create (`expected_revision=None`; `Conflict` if the name is taken) or replace the entity at
        `expected_revision` (`Conflict` if it is gone, was changed since, or is of another kind)."""
        revision = 1 if expected_revision is None else expected_revision + 1
        entity = Entity(kind, path.split("/", 1)[0], path, name, bytes(doc), revision, updated)
        head = "whisklet_head($1, 'exec.code')" if kind == EntityKind.ACTION else "NULL"

        async def write(db: asyncpg.Connection) -> None:
            if expected_revision is None:
                try:
                    await db.execute(
                        "INSERT INTO entities (doc, path, name, kind, namespace, revision, updated, head)"
                        f" VALUES ($1, $2, $3, $4, $5, $6, $7, {head})",
                        entity.doc, path, name, kind.value, entity.namespace, revision, updated,
                    )
                except asyncpg.UniqueViolationError:
                    raise Conflict(f"{path}/{name} already exists") from None
                return
            current = await self._select_entity(db, path, name, lock=True)
            if current is None:
                raise Conflict(f"{path}/{name} does not exist any more")
            if current.kind != kind:
                raise Conflict(f"{path}/{name} is a {current.kind.value}, not a {kind.value}")
            if current.revision != expected_revision:
                raise revision_conflict(f"{path}/{name}", current.revision, expected_revision)
            await db.execute(
                "UPDATE entities SET doc = $1, revision = $2, updated = $3, seq = nextval('entity_writes'),"
                f" head = {head} WHERE path = $4 AND name = $5",
                entity.doc, revision, updated, path, name,
            )

        await self._write([("entity", path, name)], f"writing {path}/{name}", write)
        return entity

    async def delete_entity(self, path: str, name: str, expected_revision: int | None = None) -> Entity | None:
        async def delete(db: asyncpg.Connection) -> Entity | None:
            current = await self._select_entity(db, path, name, lock=True)
            if current is None:
                return None
            if expected_revision is not None and current.revision != expected_revision:
                raise revision_conflict(f"{path}/{name}", current.revision, expected_revision)
            await db.execute("DELETE FROM entities WHERE path = $1 AND name = $2", path, name)
            return current

        return await self._write([("entity", path, name)], f"deleting {path}/{name}", delete)

    async def list_entities(
        self, kind: EntityKind, namespace: str, path: str | None = None, *, limit: int, skip: int
    ) -> list[Entity]:
        where, args = self._entity_filter(kind, namespace, path)

        async def select(db: asyncpg.Connection) -> list[Entity]:
            rows = await db.fetch(
                f"{_ENTITY_HEAD} WHERE {where} ORDER BY updated DESC, seq DESC LIMIT $3 OFFSET $4",
                *args, max(limit, 0), max(skip, 0),
            )
            return [_entity(r) for r in rows]

        return await self._read(namespace, f"listing {kind.value}s of {path or namespace}", select)

    async def count_entities(self, kind: EntityKind, namespace: str, path: str | None = None) -> int:
        where, args = self._entity_filter(kind, namespace, path)

        async def count(db: asyncpg.Connection) -> int:
            return int(await db.fetchval(f"SELECT COUNT(*) FROM entities WHERE {where}", *args))

        return await self._read(namespace, f"counting {kind.value}s of {path or namespace}", count)

    @staticmethod
    def _entity_filter(kind: EntityKind, namespace: str, path: str | None) -> tuple[str, tuple[str, str]]:
        if path is None:
            return "kind = $1 AND namespace = $2", (kind.value, namespace)
        return "kind = $1 AND path = $2", (kind.value, path)

    # API gateway APIs (routes)

    async def list_apis(self, namespace: str) -> list[Api]:
        async def select(db: asyncpg.Connection) -> list[Api]:
            return [_api(r) for r in await db.fetch(f"{_API} WHERE namespace = $1 ORDER BY base_path", namespace)]

        what = f"reading the APIs of {namespace}"
        return await self._cached_read(("apis", namespace), what, select, cache_none=False)

    async def put_api(self, api: Api, expected_revision: int | None) -> Api:
        revision = 1 if expected_revision is None else expected_revision + 1
        stored = Api(api.namespace, api.base_path, bytes(api.doc), revision, api.updated)
        where = f"API {api.base_path} of {api.namespace}"
        args = (stored.doc, stored.revision, stored.updated, stored.namespace, stored.base_path)

        async def write(db: asyncpg.Connection) -> None:
            if expected_revision is None:
                try:
                    await db.execute(
                        "INSERT INTO apis (doc, revision, updated, namespace, base_path) VALUES ($1, $2, $3, $4, $5)",
                        *args,
                    )
                except asyncpg.UniqueViolationError:
                    raise Conflict(f"the {where} already exists") from None
                return
            changed = await db.fetchval(
                "WITH changed AS (UPDATE apis SET doc = $1, revision = $2, updated = $3"
                " WHERE namespace = $4 AND base_path = $5 AND revision = $6 RETURNING 1) SELECT COUNT(*) FROM changed",
                *args, expected_revision,
            )
            if changed != 1:
                raise Conflict(f"the {where} changed since it was read")

        await self._write([("apis", api.namespace)], f"writing the {where}", write)
        return stored

    async def delete_api(self, namespace: str, base_path: str) -> bool:
        async def delete(db: asyncpg.Connection) -> bool:
            found = await db.fetchval(
                "DELETE FROM apis WHERE namespace = $1 AND base_path = $2 RETURNING 1", namespace, base_path
            )
            return found is not None

        return await self._write([("apis", namespace)], f"deleting the API {base_path} of {namespace}", delete)

    # activations

    async def _write_batch(
        self, rows: list[ActivationRow], accepted: list[ActivationRow], committed: Callable[[], object]
    ) -> None:
        async def write(db: asyncpg.Connection) -> None:
            await db.execute(_WRITE_BATCH, *_columns(accepted), *_columns(rows), self.node_id)

        await self._call(f"writing {len(rows) + len(accepted)} activation records", write, writer=True)
        committed()

    async def _beat(self, *, started: bool = False) -> None:
        """This node's heartbeat row: `started` at open, `heartbeat` now."""
        now = self._clock.wall_ms()

        async def write(db: asyncpg.Connection) -> None:
            await db.execute(
                "INSERT INTO nodes (node_id, started, heartbeat) VALUES ($1, $2, $2) ON CONFLICT (node_id)"
                f" DO UPDATE SET heartbeat = $2{', started = $2' if started else ''}",
                self.node_id, now,
            )

        await self._call(f"writing the heartbeat of node {self.node_id!r}", write)

    async def _mark_left(self) -> None:
        """This node's heartbeat row says it left (0): the other nodes stop counting it at once."""

        async def write(db: asyncpg.Connection) -> None:
            await db.execute("UPDATE nodes SET heartbeat = 0 WHERE node_id = $1", self.node_id)

        await self._call(f"writing that node {self.node_id!r} left", write)

    async def recover_interrupted(self) -> int:
        """Store the journalled record of every activation this node accepted in an earlier process but
        never ended; return how many. Other nodes' journal rows are left alone (they may be running).
        Only the process that serves may call this."""
        return await self._move_journal("recording interrupted activations", "node IN ($1, '')", self.node_id)

    async def take_over_lapsed(self, lapse_ms: int) -> int:
        """Store the journalled records of the activations of every other node whose heartbeat is older
        than `lapse_ms` (it died): each exactly once, however many survivors race; return how many."""
        cutoff = self._clock.wall_ms() - lapse_ms
        return await self._move_journal(
            "taking over the activations of lapsed nodes",
            "node IN (SELECT node_id FROM nodes WHERE heartbeat < $1 AND node_id <> $2)", cutoff, self.node_id,
        )

    async def live_nodes(self, lapse_ms: int) -> int:
        async def count(db: asyncpg.Connection) -> int:
            return int(await db.fetchval("SELECT COUNT(*) FROM nodes WHERE heartbeat >= $1", self._clock.wall_ms() - lapse_ms))

        return await self._call("counting the live nodes", count)

    async def _move_journal(self, what: str, where: str, *args: Any) -> int:
        """Journal rows matching `where` become their activations' records in one statement. The DELETE
        locks each row it takes: a racing mover waits, then finds it gone, so a row moves once."""

        async def move(db: asyncpg.Connection) -> int:
            moved = await db.fetchval(
                f'WITH taken AS (DELETE FROM accepted WHERE {where} RETURNING activation_id, namespace, name, start, "end", doc),'
                ' moved AS (INSERT INTO activations (activation_id, namespace, name, start, "end", doc, head)'
                " SELECT t.*, whisklet_head(t.doc, 'response.result', 'logs') FROM taken t"
                " ON CONFLICT (activation_id) DO NOTHING RETURNING 1)"
                " SELECT COUNT(*) FROM moved",
                *args,
            )
            return int(moved)

        return await self._call(what, move, writer=True)

    async def get_activation(self, namespace: str, activation_id: str) -> ActivationRow | None:
        row = self._batcher.pending.get(activation_id)
        if row is not None:
            return row if row.namespace == namespace else None

        async def select(db: asyncpg.Connection) -> ActivationRow | None:
            found = await db.fetchrow(
                f"{_ACTIVATION} WHERE activation_id = $1 AND namespace = $2", activation_id, namespace
            )
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
        """As SQLite's (`SqliteStore.list_activations`); sizes and then the page's docs in one snapshot."""
        limit, skip = max(limit, 0), max(skip, 0)
        pending, where, args = self._activation_filter(namespace, name, since, upto)
        size = "octet_length(doc)" if docs else "COALESCE(octet_length(head), octet_length(doc))"
        column = "doc" if docs else "COALESCE(head, doc)"
        offset = 0 if pending else skip  # with none pending, PostgreSQL skips; else the merge needs all before
        n = len(args)

        async def select(db: asyncpg.Connection) -> list[ActivationRow]:
            async with db.transaction(isolation="repeatable_read", readonly=True):  # sizes and docs: one snapshot
                sized = await db.fetch(
                    f"SELECT activation_id, start, {size} FROM activations WHERE {where}"
                    f' ORDER BY start DESC, activation_id COLLATE "C" LIMIT ${n + 1} OFFSET ${n + 2}',
                    *args, skip + limit - offset, offset,
                )
                stored = [Listed(start, aid, size) for aid, start, size in sized]
                page = merged_page(stored, pending, skip=skip, limit=limit, max_bytes=max_bytes)
                wanted = [entry.activation_id for entry in page if entry.row is None]
                docs_by_id: dict[str, ActivationRow] = {}
                if wanted:
                    rows = await db.fetch(
                        f'SELECT activation_id, namespace, name, start, "end", {column} FROM activations'
                        " WHERE activation_id = ANY($1::text[])",
                        wanted,
                    )
                    docs_by_id = {row[0]: _activation(row) for row in rows}
            found = (entry.row or docs_by_id.get(entry.activation_id) for entry in page)
            return [row for row in found if row is not None]

        return await self._read(namespace, f"listing activations of {namespace}", select)

    async def count_activations(
        self, namespace: str, *, name: str | None, since: int | None, upto: int | None, skip: int = 0
    ) -> int:
        pending, where, args = self._activation_filter(namespace, name, since, upto)

        async def count(db: asyncpg.Connection) -> int:
            return int(await db.fetchval(f"SELECT COUNT(*) FROM activations WHERE {where}", *args))

        stored = await self._read(namespace, f"counting activations of {namespace}", count)
        return max(stored + len(pending) - max(skip, 0), 0)

    def _activation_filter(
        self, namespace: str, name: str | None, since: int | None, upto: int | None
    ) -> tuple[list[ActivationRow], str, tuple[Any, ...]]:
        """The pending rows that match, and the SQL filter for stored rows not shadowed by pending ones
        (taken before the query is sent, as SQLite's)."""
        clauses, args = ["namespace = $1"], list[Any]([namespace])
        if name is not None:
            args.append(name)
            clauses.append(f"name = ${len(args)}")
        if since is not None:
            args.append(since)
            clauses.append(f"start >= ${len(args)}")
        if upto is not None:
            args.append(upto)
            clauses.append(f"start <= ${len(args)}")
        if self._batcher.pending:
            args.append(list(self._batcher.pending))
            clauses.append(f"activation_id <> ALL(${len(args)}::text[])")
        return self._batcher.matching(namespace, name, since, upto), " AND ".join(clauses), tuple(args)

    async def prune_activations(self, older_than: int, keep_at_most: int) -> int:
        """Delete records that started before `older_than` (epoch ms), and the oldest beyond
        `keep_at_most` in all; return how many were deleted. Pending records are flushed first."""
        await self.flush()

        async def prune(db: asyncpg.Connection) -> int:
            async with db.transaction():
                aged = await db.fetchval(
                    "WITH gone AS (DELETE FROM activations WHERE start < $1 RETURNING 1) SELECT COUNT(*) FROM gone",
                    older_than,
                )
                excess = await db.fetchval(
                    "WITH gone AS (DELETE FROM activations WHERE activation_id IN"
                    ' (SELECT activation_id FROM activations ORDER BY start DESC, activation_id COLLATE "C" OFFSET $1)'
                    " RETURNING 1) SELECT COUNT(*) FROM gone",
                    max(keep_at_most, 0),
                )
            return int(aged) + int(excess)

        return await self._call("pruning activation records", prune)

    # log forwarding

    async def get_log_forwarding(self, namespace: str) -> LogForwardingRow | None:
        async def select(db: asyncpg.Connection) -> LogForwardingRow | None:
            row = await db.fetchrow(f"{_LOG_FORWARDING} WHERE namespace = $1", namespace)
            return None if row is None else LogForwardingRow(row[0], row[1], bytes(row[2]), bytes(row[3]), row[4])

        return await self._cached_read(
            ("logfwd", namespace), f"reading the log forwarding of namespace {namespace}", select, cache_none=True
        )

    async def put_log_forwarding(self, row: LogForwardingRow) -> None:
        async def write(db: asyncpg.Connection) -> None:
            await db.execute(
                "INSERT INTO log_forwarding (namespace, destination, settings, secret, updated)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace) DO UPDATE SET destination = EXCLUDED.destination,"
                " settings = EXCLUDED.settings, secret = EXCLUDED.secret, updated = EXCLUDED.updated",
                row.namespace, row.destination, bytes(row.settings), bytes(row.secret), row.updated,
            )

        what = f"writing the log forwarding of namespace {row.namespace}"
        await self._write([("logfwd", row.namespace)], what, write)

    # alarms

    async def put_alarm(self, alarm: Alarm) -> None:
        async def write(db: asyncpg.Connection) -> None:
            await db.execute(
                "INSERT INTO alarms (trigger, namespace, spec, active, next_fire, changed)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (trigger) DO UPDATE SET namespace = EXCLUDED.namespace, spec = EXCLUDED.spec,"
                " active = EXCLUDED.active, next_fire = EXCLUDED.next_fire, changed = EXCLUDED.changed",
                alarm.trigger, alarm.namespace, bytes(alarm.spec), alarm.active, alarm.next_fire, alarm.changed,
            )

        await self._call(f"writing the alarm of trigger {alarm.trigger}", write)

    async def get_alarm(self, trigger: str) -> Alarm | None:
        async def select(db: asyncpg.Connection) -> Alarm | None:
            row = await db.fetchrow(f"{_ALARM} WHERE trigger = $1", trigger)
            return None if row is None else _alarm(row)

        return await self._call(f"reading the alarm of trigger {trigger}", select)

    async def delete_alarm(self, trigger: str) -> bool:
        async def delete(db: asyncpg.Connection) -> bool:
            return await db.fetchval("DELETE FROM alarms WHERE trigger = $1 RETURNING 1", trigger) is not None

        return await self._call(f"deleting the alarm of trigger {trigger}", delete)

    async def due_alarms(self, now_ms: int, limit: int) -> list[Alarm]:
        async def select(db: asyncpg.Connection) -> list[Alarm]:
            rows = await db.fetch(
                f"{_ALARM} WHERE active AND next_fire > 0 AND next_fire <= $1 ORDER BY next_fire LIMIT $2",
                now_ms, max(limit, 0),
            )
            return [_alarm(r) for r in rows]

        return await self._call("reading the alarms due", select)

    async def next_alarm_fire(self) -> int | None:
        async def select(db: asyncpg.Connection) -> int | None:
            found = await db.fetchval("SELECT MIN(next_fire) FROM alarms WHERE active AND next_fire > 0")
            return None if found is None else int(found)

        return await self._call("reading the next alarm", select)

    async def advance_alarm(self, trigger: str, expected_next_fire: int, next_fire: int) -> bool:
        async def update(db: asyncpg.Connection) -> bool:
            found = await db.fetchval(
                "UPDATE alarms SET next_fire = $1 WHERE trigger = $2 AND next_fire = $3 RETURNING 1",
                next_fire, trigger, expected_next_fire,
            )
            return found is not None

        return await self._call(f"moving on the alarm of trigger {trigger}", update)
