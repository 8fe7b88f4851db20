"""The PostgreSQL schema: versioned migrations, recorded in `schema_version`, applied under an advisory lock."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from gateway.store.base import StoreError

# The same logical schema as SQLite's version 6 (gateway/store/sqlite/schema.py), in one first migration;
# later versions add to MIGRATIONS and never edit an applied one.
_SCHEMA_V1 = """
CREATE TABLE subjects (
    namespace TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    limits BYTEA NOT NULL,
    created BIGINT NOT NULL
);
-- `seq` orders entity writes (newest first among writes in the same millisecond); `head` is what a
-- list reads instead of the document: an action without `exec.code` (NULL: the document is read)
CREATE SEQUENCE entity_writes;
CREATE TABLE entities (
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    doc BYTEA NOT NULL,
    head BYTEA,
    revision INTEGER NOT NULL,
    updated BIGINT NOT NULL,
    seq BIGINT NOT NULL DEFAULT nextval('entity_writes'),
    PRIMARY KEY (path, name)
);
CREATE INDEX entities_by_namespace ON entities (kind, namespace, updated DESC, seq DESC);
CREATE INDEX entities_by_path ON entities (kind, path, updated DESC, seq DESC);
-- `head`: the record without `response.result` and `logs`, what a summary list reads
CREATE TABLE activations (
    activation_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    start BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    doc BYTEA NOT NULL,
    head BYTEA
);
CREATE INDEX activations_by_namespace ON activations (namespace, start DESC);
CREATE INDEX activations_by_name ON activations (namespace, name, start DESC);
CREATE INDEX activations_by_start ON activations (start);
-- the journal of accepted activations that have not ended yet
CREATE TABLE accepted (
    activation_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    start BIGINT NOT NULL,
    "end" BIGINT NOT NULL,
    doc BYTEA NOT NULL
);
CREATE TABLE alarms (
    trigger TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    spec BYTEA NOT NULL,
    active BOOLEAN NOT NULL,
    next_fire BIGINT NOT NULL,
    changed BIGINT NOT NULL
);
CREATE INDEX alarms_by_next_fire ON alarms (next_fire) WHERE active AND next_fire > 0;
CREATE TABLE log_forwarding (
    namespace TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    settings BYTEA NOT NULL,
    secret BYTEA NOT NULL,
    updated BIGINT NOT NULL
);
CREATE TABLE apis (
    namespace TEXT NOT NULL,
    base_path TEXT NOT NULL,
    doc BYTEA NOT NULL,
    revision INTEGER NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (namespace, base_path)
);
-- a JSON document without the members at `paths`, NULL when it is not JSON (then lists read the document)
CREATE FUNCTION whisklet_head(doc BYTEA, VARIADIC paths TEXT[]) RETURNS BYTEA
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parsed JSONB;
    path TEXT;
BEGIN
    parsed := convert_from(doc, 'UTF8')::jsonb;
    FOREACH path IN ARRAY paths LOOP
        parsed := parsed #- string_to_array(path, '.');
    END LOOP;
    RETURN convert_to(parsed::text, 'UTF8');
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
"""

# v2: nodes (gateway/store/nodes.py): each journal row is owned by the node that accepted it, and every
# node has a heartbeat row
_SCHEMA_V2 = """
ALTER TABLE accepted ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX accepted_by_node ON accepted (node);
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    started BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _SCHEMA_V1), (2, _SCHEMA_V2))
SCHEMA_VERSION = MIGRATIONS[-1][0]

_LOCK_KEY = 0x5768_6973_6B6C  # the advisory lock that lets one node at a time migrate


async def migrate(db: asyncpg.Connection, shown: str) -> None:
    """Bring the database to `SCHEMA_VERSION`, each migration in its own transaction; several nodes
    starting at once migrate one after the other. `StoreError` if the database is newer."""
    await db.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)"
        )
        version = await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database {shown} has schema version {version}, newer than this Whisklet's"
                f" {SCHEMA_VERSION}: upgrade Whisklet or use another database"
            )
        for number, schema in MIGRATIONS:
            if number > version:
                async with db.transaction():
                    await db.execute(schema)
                    await db.execute(
                        "INSERT INTO schema_version (version, applied)"
                        " VALUES ($1, (extract(epoch FROM now()) * 1000)::bigint)",
                        number,
                    )
    finally:
        await db.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
