"""The SQLite schema: one migration per version, in order; the version is kept in `PRAGMA user_version`."""

from __future__ import annotations

from pathlib import Path

from gateway.store.base import StoreError

SCHEMA_VERSION = 7

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
# v7: nodes (gateway/store/nodes.py): each journal row is owned by the node that accepted it ('': by a
# Whisklet from before node ids), and every node has a heartbeat row
_SCHEMA_V7 = """
ALTER TABLE accepted ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY,
    started INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL
);
"""
MIGRATIONS = (
    (1, _SCHEMA_V1), (2, _SCHEMA_V2), (3, _SCHEMA_V3), (4, _SCHEMA_V4), (5, _SCHEMA_V5), (6, _SCHEMA_V6),
    (7, _SCHEMA_V7),
)


def migrations_after(version: int, path: Path) -> list[str]:
    """The statements that bring a database at schema `version` to `SCHEMA_VERSION`, in order;
    `StoreError` if it is newer than this Whisklet."""
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database file {path} has schema version {version}, newer than this"
            f" Whisklet's {SCHEMA_VERSION}: upgrade Whisklet or use another data directory"
        )
    return [
        statement
        for number, schema in MIGRATIONS
        if version < number
        for statement in schema.split(";")
        if statement.strip()
    ]
