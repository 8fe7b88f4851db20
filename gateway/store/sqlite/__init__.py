"""The embedded SQLite engine: one database file in WAL mode, written from one dedicated thread."""

from gateway.store.sqlite.schema import SCHEMA_VERSION
from gateway.store.sqlite.store import SqliteStore

__all__ = ["SCHEMA_VERSION", "SqliteStore"]
