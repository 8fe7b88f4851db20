"""Storage of subjects, entities and activation records."""

from gateway.store.base import ActivationRow, Conflict, Entity, EntityKind, Store, StoreError, Subject
from gateway.store.keys import hash_key, key_matches
from gateway.store.sqlite import SqliteStore

__all__ = [
    "ActivationRow",
    "Conflict",
    "Entity",
    "EntityKind",
    "SqliteStore",
    "Store",
    "StoreError",
    "Subject",
    "hash_key",
    "key_matches",
]
