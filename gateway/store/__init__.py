"""Storage of subjects, entities and activation records."""

from gateway.store.base import (
    ActivationRow,
    Alarm,
    Api,
    Conflict,
    Entity,
    EntityKind,
    LogForwardingRow,
    Store,
    StoreError,
    Subject,
)
from gateway.store.keys import hash_key, key_matches
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore

__all__ = [
    "ActivationRow",
    "Alarm",
    "Api",
    "Conflict",
    "Entity",
    "EntityKind",
    "LogForwardingRow",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "Subject",
    "hash_key",
    "key_matches",
]
