"""The embedded SQLite store: one database file in WAL mode, used from one dedicated thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.datadir import owner_only_file
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
)
from gateway.store.keys import hash_key
from gateway.store.readers import Readers

log = logging.getLogger("whisklet.store")

T = TypeVar("T")

SCHEMA_VERSION = 6
BUSY_TIMEOUT_MS = 5000
MAX_RETRY_DELAY_S = 5.0

_SCHEMA_V1 = """
CREATE TABLE subjects (
    namespace TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    limits BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE entities (
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    doc BLOB NOT NULL,
    revision INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (path, name)
);
CREATE INDEX entities_by_namespace ON entities (kind, namespace, updated DESC);
CREATE INDEX entities_by_path ON entities (kind, path, updated DESC);
CREATE TABLE activations (
    activation_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX activations_by_namespace ON activations (namespace, start DESC);
CREATE INDEX activations_by_name ON activations (namespace, name, start DESC);
-- pruning by age and by total count scans all namespaces
CREATE INDEX activations_by_start ON activations (start);
"""

# v2: the journal of accepted activations that have not ended yet (see `SqliteStore.accept`)
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS accepted (
    activation_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    doc BLOB NOT NULL
);
"""

# v3: the alarm schedules of triggers (the `/whisk.system/alarms` feeds)
_SCHEMA_V3 = """
CREATE TABLE IF NOT EXISTS alarms (
    trigger TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    spec BLOB NOT NULL,
    active INTEGER NOT NULL,
    next_fire INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alarms_by_next_fire ON alarms (next_fire) WHERE active AND next_fire > 0;
"""

# v4: `seq`, the order of entity writes (newest first among writes in the same millisecond, as
# OpenWhisk lists them); `head`, what a list reads instead of the document: an activation record
# without `response.result` and `logs`, an action without `exec.code` (SQLite cuts it from the
# document as it is written; NULL if it could not, or for other entities: the document is read then)
_SCHEMA_V4 = """
ALTER TABLE entities ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX entities_by_seq ON entities (seq);
DROP INDEX entities_by_namespace;
DROP INDEX entities_by_path;
CREATE INDEX entities_by_namespace ON entities (kind, namespace, updated DESC, seq DESC);
CREATE INDEX entities_by_path ON entities (kind, path, updated DESC, seq DESC);
ALTER TABLE activations ADD COLUMN head BLOB;
ALTER TABLE entities ADD COLUMN head BLOB;
"""
# v5: each namespace's log-forwarding destination (`gateway/logfwd/`), its secret sealed
_SCHEMA_V5 = """
CREATE TABLE IF NOT EXISTS log_forwarding (
    namespace TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    settings BLOB NOT NULL,
    secret BLOB NOT NULL,
    updated INTEGER NOT NULL
);
"""
# v6: API gateway APIs (`wsk api`), one Swagger document per namespace and normalised base path
_SCHEMA_V6 = """
CREATE TABLE IF NOT EXISTS apis (
    namespace TEXT NOT NULL,
    base_path TEXT NOT NULL,
    doc BLOB NOT NULL,
    revision INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (namespace, base_path)
);
"""
_MIGRATIONS = ((1, _SCHEMA_V1), (2, _SCHEMA_V2), (3, _SCHEMA_V3), (4, _SCHEMA_V4), (5, _SCHEMA_V5), (6, _SCHEMA_V6))

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

_MISSING = object()  # a cache miss, as opposed to a cached None


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


class _Listed(NamedTuple):
    """An activation in a list, before its doc is read: `row` is set for a pending one."""

    start: int
    activation_id: str
    size: int
    row: ActivationRow | None = None


def _within(page: list[_Listed], max_bytes: int | None) -> list[_Listed]:
    """The first entries of `page` whose sizes add up to at most `max_bytes`; at least one."""
    if max_bytes is None:
        return page
    total = 0
    for count, entry in enumerate(page):
        total += entry.size
        if total > max_bytes and count > 0:
            return page[:count]
    return page


def _store_error(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """The one place a SQLite error becomes a StoreError that says what failed and what to do."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        advice = f"the database file {path} is read-only: check its permissions and that its disk is writable"
    elif code.startswith("SQLITE_FULL"):
        advice = f"the disk holding {path} is full: free some space"
    elif code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        advice = f"the database file {path} is locked by another process: stop any other Whisklet using it"
    elif code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        advice = f"the database file {path} is damaged or not a database: restore it from a backup or move it aside"
    elif code.startswith("SQLITE_CANTOPEN"):
        advice = f"cannot open the database file {path}: check that its directory exists and is writable"
    elif code.startswith("SQLITE_IOERR"):
        advice = f"an I/O error hit the database file {path}: check the disk"
    else:
        advice = f"the database file {path} failed"
    return StoreError(f"{what}: {advice} (SQLite: {exc})")


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class _Lru:
    """A bounded mapping that forgets the least recently used key."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, ...], Any] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> Any:
        value = self._items.get(key, _MISSING)
        if value is not _MISSING:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple[str, ...], value: Any) -> None:
        if self._size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: tuple[str, ...]) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class SqliteStore:
    """The `Store` on one SQLite file.

    1. Every database call runs on one dedicated thread, one call at a time; a call is a whole unit of
       work (its own transaction), so calls never interleave and the event loop never blocks.
    2. Subjects (found) and entities (found or absent) are cached in one LRU of `cache_size` entries.
       Every write through this store drops the keys it touched and bumps `_writes`; a read caches its
       result only if no write completed while it ran, so the cache never holds data older than the
       last completed write. Writes committed by other processes (the `whisklet namespace` commands)
       are noticed within `external_check_s` (SQLite's `data_version`) and empty the cache.
    3. `put_activation` puts the row in `_pending` (by activation id) and returns at once. A row stays
       pending, visible to reads, until the transaction that writes it commits. The flusher task writes
       everything pending, `max_batch` rows per transaction, `flush_interval_s` after the first pending
       row, or at once when `max_batch` rows are pending, `flush()` is waiting, or the row replaces a
       journal row never committed (`journal`'s: a blocking caller flushes next).
    4. Backpressure: `put_activation` never drops a row. It returns True once `max_pending` rows are
       pending (the database is slow or failing); the caller must then `await flush()` before putting
       more, which waits for the write or raises `StoreError` if it fails.
    5. A failed flush keeps its rows pending, logs once per failure streak, fails the `flush()` calls
       waiting on it, and is retried with exponential backoff (a new `flush()` retries at once).
    6. `accept` journals an activation before it starts (the record to keep should it never end) and
       returns once that is committed; `journal` queues the same row for the next group commit without
       waiting. Journal rows are never read back except by
       `recover_interrupted`; the activation's own record replaces its journal row in the
       transaction that writes it (a journal row still pending is simply dropped).
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
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._external_check_s = external_check_s
        self._watcher: asyncio.Task[None] | None = None
        self._seen_data_version = 0
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._cache = _Lru(cache_size)
        self._writes = 0
        self._db: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._readers: Readers | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._pending: dict[str, ActivationRow] = {}
        self._accepted: dict[str, ActivationRow] = {}  # journal rows not yet committed
        self._put_seq = 0  # puts so far
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()  # something is pending
        self._hurry = asyncio.Event()  # write it now
        self._failing = False
        self._accepting = False  # put_activation takes rows only between open() and close()

    # lifecycle

    async def open(self) -> None:
        if self._db is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisklet-store")
        try:
            self._db = await self._call("opening the store", self._connect, opening=True)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._readers = Readers(self.path, BUSY_TIMEOUT_MS)
        self._flusher = asyncio.create_task(self._run_flusher(), name="whisklet-store-flusher")
        self._watcher = asyncio.create_task(self._watch_external_writes(), name="whisklet-store-watcher")
        self._accepting = True

    async def close(self) -> None:
        """Flush pending activations, stop the flusher and close the database.

        If the final flush fails the store is closed all the same and `StoreError` says how many
        activation records were not written.
        """
        if self._db is None:
            return
        error: StoreError | None = None
        try:
            while self._pending or self._accepted:
                await self.flush()
        except StoreError as exc:
            error = StoreError(f"{len(self._pending)} activation records were not written: {exc}")
        self._accepting = False  # no await since the last check: every accepted row is written
        assert self._flusher is not None and self._watcher is not None and self._executor is not None
        self._flusher.cancel()
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flusher
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher
        try:
            await self._call("closing the store", self._disconnect)  # waits for the readers first
        except StoreError as exc:
            error = error or exc  # raised once the store's threads are let go
        self._db = None
        self._executor.shutdown(wait=False)
        self._executor = None
        if error is not None:
            raise error

    def _connect(self) -> sqlite3.Connection:
        # 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
        try:
            owner_only_file(self.path)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    owner_only_file(self.path.with_name(self.path.name + suffix), create=False)
        except OSError as exc:
            raise StoreError(
                f"opening the store: cannot open the database file {self.path} owner-only: check that its"
                f" directory exists and is writable, and that it is a regular file ({exc.strerror})"
            ) from None
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
                log.warning("%s cannot use WAL mode (network file system?): writers will block readers", self.path)
            db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database file {self.path} has schema version {version}, newer than this"
                    f" Whisklet's {SCHEMA_VERSION}: upgrade Whisklet or use another data directory"
                )
            if version < SCHEMA_VERSION:
                with _transaction(db):
                    for number, schema in _MIGRATIONS:
                        for statement in schema.split(";") if version < number else ():
                            if statement.strip():
                                db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._seen_data_version = db.execute("PRAGMA data_version").fetchone()[0]
        except BaseException:
            db.close()
            raise
        return db

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
            raise _store_error(self.path, what, exc) from exc

    async def _read(self, namespace: str, what: str, fn: Callable[..., T], *args: Any) -> T:
        """`fn(db, *args)` on a reader connection (`readers.Readers`), not on the writer's thread."""
        if self._readers is None or self._db is None:
            raise StoreError(f"{what}: the store for {self.path} is not open")
        try:
            return await self._readers.run(namespace, fn, *args)
        except sqlite3.Error as exc:
            raise _store_error(self.path, what, exc) from exc

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    # cache

    async def _watch_external_writes(self) -> None:
        """Empty the cache whenever another connection (another process) committed a write."""
        seen = self._seen_data_version
        while True:
            await asyncio.sleep(self._external_check_s)
            try:
                version = await self._call("checking for outside writes", self._data_version)
            except StoreError:
                continue  # the flusher and the requests report a failing database
            if version != seen:
                self._writes += 1
                self._cache.clear()
            seen = version

    def _data_version(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    async def _cached_read(
        self, key: tuple[str, ...], what: str, fn: Callable[..., T], *args: Any, cache_none: bool
    ) -> T:
        value = self._cache.get(key)
        if value is not _MISSING:
            return cast(T, value)
        writes = self._writes
        value = await self._call(what, fn, *args)
        if writes == self._writes and (value is not None or cache_none):
            self._cache.put(key, value)
        return cast(T, value)

    async def _write(self, keys: Sequence[tuple[str, ...]], what: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self._call(what, fn, *args)
        finally:
            self._writes += 1
            for key in keys:
                self._cache.pop(key)

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
            with _transaction(db):
                row = db.execute("DELETE FROM subjects WHERE namespace = ? RETURNING uuid", (namespace,)).fetchone()
                db.execute("DELETE FROM log_forwarding WHERE namespace = ?", (namespace,))
            return None if row is None else row[0]

        keys = [("ns", namespace), ("logfwd", namespace)]
        uuid = await self._write(keys, f"deleting namespace {namespace}", delete)
        if uuid is not None:
            self._cache.pop(("uuid", uuid))
        return uuid is not None

    async def set_subject_limits(self, namespace: str, limits: bytes) -> bool:
        def update() -> str | None:
            row = self._conn().execute(
                "UPDATE subjects SET limits = ? WHERE namespace = ? RETURNING uuid", (bytes(limits), namespace)
            ).fetchone()
            return None if row is None else row[0]

        uuid = await self._write([("ns", namespace)], f"setting the limits of namespace {namespace}", update)
        if uuid is not None:
            self._cache.pop(("uuid", uuid))
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
            with _transaction(db):
                current = self._select_entity(path, name)
                if current is None:
                    raise Conflict(f"{path}/{name} does not exist any more")
                if current.kind != kind:
                    raise Conflict(f"{path}/{name} is a {current.kind.value}, not a {kind.value}")
                if current.revision != expected_revision:
                    raise Conflict(
                        f"{path}/{name} changed since it was read (revision {current.revision},"
                        f" expected {expected_revision})"
                    )
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
            with _transaction(db):
                current = self._select_entity(path, name)
                if current is None:
                    return None
                if expected_revision is not None and current.revision != expected_revision:
                    raise Conflict(
                        f"{path}/{name} changed since it was read (revision {current.revision},"
                        f" expected {expected_revision})"
                    )
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
        stored = Api(api.namespace, api.base_path, bytes(api.doc), 1 if expected_revision is None else expected_revision + 1,
                     api.updated)
        where = f"API {api.base_path} of {api.namespace}"

        def write() -> None:
            db = self._conn()
            args = (stored.doc, stored.revision, stored.updated, stored.namespace, stored.base_path)
            if expected_revision is None:
                try:
                    db.execute("INSERT INTO apis (doc, revision, updated, namespace, base_path) VALUES (?, ?, ?, ?, ?)", args)
                except sqlite3.IntegrityError:
                    raise Conflict(f"the {where} already exists") from None
                return
            changed = db.execute(
                "UPDATE apis SET doc = ?, revision = ?, updated = ? WHERE namespace = ? AND base_path = ? AND revision = ?",
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

    def put_activation(self, row: ActivationRow) -> bool:
        """Queue the record for the next batch; it is readable at once.

        Never drops a record. Returns True when `max_pending` records are pending: the caller must
        `await flush()` before putting more (it raises `StoreError` if the database cannot be written).
        """
        if not self._accepting:
            raise StoreError(f"recording activation {row.activation_id}: the store for {self.path} is not open")
        if not (isinstance(row.start, int) and isinstance(row.end, int) and isinstance(row.doc, bytes)):
            raise TypeError(f"activation {row.activation_id}: start and end must be int and doc bytes")
        self._pending[row.activation_id] = row
        # its journal row need not be written any more; one never committed is a blocking caller's,
        # who flushes next: the commit starts now, while the caller is still being woken
        blocking = self._accepted.pop(row.activation_id, None) is not None
        self._put_seq += 1
        self._wake.set()
        if (blocking or len(self._pending) >= self._max_batch) and not self._failing:  # failing: keep the backoff
            self._hurry.set()
        return len(self._pending) >= self._max_pending

    def journal(self, row: ActivationRow) -> None:
        """Queue an accepted activation's journal row (the record to keep if it never ends) for the
        next group commit, without waiting for it: within `flush_interval_s`, or with the next
        `flush()`. A record put before that commit replaces it, so both cost one transaction."""
        if not self._accepting:
            raise StoreError(f"recording activation {row.activation_id}: the store for {self.path} is not open")
        self._accepted[row.activation_id] = row
        self._put_seq += 1
        self._wake.set()

    async def accept(self, row: ActivationRow) -> None:
        """Journal an accepted activation: `row` is the record to keep if it never ends.

        Returns once the journal row is committed, with everything put before it. Raises
        `StoreError` if it cannot be written; the journal row is then forgotten (the caller does not
        start the activation). The activation's own record, once put, replaces the journal row.
        """
        self.journal(row)
        try:
            await self.flush()
        except StoreError:
            if self._accepted.get(row.activation_id) is row:  # not committed by an earlier chunk
                del self._accepted[row.activation_id]
                raise

    async def recover_interrupted(self) -> int:
        """Store the journalled record of every activation an earlier process accepted but never
        ended (it was killed); return how many. Only the process that serves may call this."""

        def recover() -> int:
            db = self._conn()
            with _transaction(db):
                moved = db.execute(
                    'INSERT OR IGNORE INTO activations (activation_id, namespace, name, start, "end", doc)'
                    ' SELECT activation_id, namespace, name, start, "end", doc FROM accepted'
                ).rowcount
                db.execute("DELETE FROM accepted")
            return moved

        return await self._call("recording interrupted activations", recover)

    async def flush(self) -> None:
        """Return once every activation record put before the call is committed.

        Raises `StoreError` if the write fails; the records stay pending and are retried.
        """
        if not self._pending and not self._accepted:
            return
        if self._flusher is None:
            raise StoreError(f"flushing activations: the store for {self.path} is not open")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._put_seq, waiter))
        self._hurry.set()
        await waiter

    async def _run_flusher(self) -> None:
        failures = 0
        while True:
            if not self._pending and not self._accepted:
                self._wake.clear()
                await self._wake.wait()
                continue
            if failures:
                delay = min(self._flush_interval_s * 2 ** min(failures, 16), MAX_RETRY_DELAY_S)
            else:
                delay = self._flush_interval_s
            if not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._hurry.wait()
            self._hurry.clear()
            failures = 0 if await self._write_pending() else failures + 1

    async def _write_pending(self) -> bool:
        """Write everything pending, `max_batch` rows per transaction so reads can run in between.

        On failure the unwritten rows stay pending and the waiting `flush()` calls fail.
        """
        batch = list(self._pending.values())
        journal = list(self._accepted.values())
        seq = self._put_seq
        for first in range(0, max(len(batch), 1), self._max_batch):
            chunk = batch[first : first + self._max_batch]
            accepted, journal = journal, []  # all of the journal goes in the first transaction
            if not chunk and not accepted:
                break
            try:
                what = f"writing {len(chunk) + len(accepted)} activation records"
                await self._call(what, self._insert_activations, chunk, accepted)
            except Exception as failure:
                self._fail_waiters(failure)
                return False
            for row in chunk:
                if self._pending.get(row.activation_id) is row:
                    del self._pending[row.activation_id]
            for row in accepted:
                if self._accepted.get(row.activation_id) is row:
                    del self._accepted[row.activation_id]
        if self._failing:
            self._failing = False
            log.warning("activation records are being written again to %s", self.path)
        still_waiting = []
        for target, waiter in self._waiters:
            if target <= seq:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still_waiting.append((target, waiter))
        self._waiters = still_waiting
        return True

    def _fail_waiters(self, failure: Exception) -> None:
        if isinstance(failure, StoreError):
            error = failure
        else:
            error = StoreError(f"writing activation records to {self.path} failed: {failure!r}")
        if not self._failing:
            self._failing = True
            log.error("%s; %d records kept in memory, retrying", error, len(self._pending))
        waiters, self._waiters = self._waiters, []
        for _, waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _insert_activations(self, rows: list[ActivationRow], accepted: list[ActivationRow]) -> None:
        db = self._conn()
        with _transaction(db):
            if accepted:
                db.executemany(
                    'INSERT OR REPLACE INTO accepted (activation_id, namespace, name, start, "end", doc)'
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(r.activation_id, r.namespace, r.name, r.start, r.end, r.doc) for r in accepted],
                )
            if rows:
                db.executemany(
                    'INSERT OR REPLACE INTO activations (activation_id, namespace, name, start, "end", doc, head)'
                    f" VALUES (?1, ?2, ?3, ?4, ?5, ?6, {_HEAD})",
                    [(r.activation_id, r.namespace, r.name, r.start, r.end, r.doc) for r in rows],
                )
                db.executemany("DELETE FROM accepted WHERE activation_id = ?", [(r.activation_id,) for r in rows])

    async def get_activation(self, namespace: str, activation_id: str) -> ActivationRow | None:
        row = self._pending.get(activation_id)
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
            listed = [_Listed(start, aid, size) for aid, start, size in sized]
            listed.extend(_Listed(r.start, r.activation_id, len(r.doc), r) for r in pending)
            listed.sort(key=lambda entry: (-entry.start, entry.activation_id))
            page = _within(listed[skip - offset : skip - offset + limit], max_bytes)
            wanted = [entry.activation_id for entry in page if entry.row is None]
            stored: dict[str, ActivationRow] = {}
            if wanted:
                rows = db.execute(
                    f'SELECT activation_id, namespace, name, start, "end", {column} FROM activations'
                    " WHERE activation_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
                stored = {row[0]: _activation(row) for row in rows}
            found = (entry.row or stored.get(entry.activation_id) for entry in page)
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
        clauses: list[str] = ["namespace = ?"]
        args: list[Any] = [namespace]
        if name is not None:
            clauses.append("name = ?")
            args.append(name)
        if since is not None:
            clauses.append("start >= ?")
            args.append(since)
        if upto is not None:
            clauses.append("start <= ?")
            args.append(upto)
        if self._pending:
            clauses.append("activation_id NOT IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(self._pending)))
        matching = [
            r
            for r in self._pending.values()
            if r.namespace == namespace
            and (name is None or r.name == name)
            and (since is None or r.start >= since)
            and (upto is None or r.start <= upto)
        ]
        return matching, " AND ".join(clauses), tuple(args)

    async def prune_activations(self, older_than: int, keep_at_most: int) -> int:
        """Delete records that started before `older_than` (epoch ms), and the oldest beyond
        `keep_at_most` in all; return how many were deleted. Pending records are flushed first."""
        await self.flush()

        def prune() -> int:
            db = self._conn()
            with _transaction(db):
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
            row = self._conn().execute("SELECT MIN(next_fire) FROM alarms WHERE active AND next_fire > 0").fetchone()
            return None if row[0] is None else int(row[0])

        return await self._call("reading the next alarm", select)

    async def advance_alarm(self, trigger: str, expected_next_fire: int, next_fire: int) -> bool:
        def update() -> bool:
            return self._conn().execute(
                "UPDATE alarms SET next_fire = ? WHERE trigger = ? AND next_fire = ?",
                (next_fire, trigger, expected_next_fire),
            ).rowcount == 1

        return await self._call(f"moving on the alarm of trigger {trigger}", update)
