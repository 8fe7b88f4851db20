"""The PostgreSQL engine: one database shared by every node, through asyncpg's pool."""

from gateway.store.postgresql.schema import SCHEMA_VERSION
from gateway.store.postgresql.store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore"]
