"""Namespace keys: how they are hashed for storage and checked against a subject."""

from __future__ import annotations

import hashlib
import hmac

from gateway.store.base import Subject


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex.

    A fast unsalted hash is adequate because keys are 64 random characters, not passwords: there is
    no dictionary to try and a brute force of the key space is out of reach, so a slow KDF buys nothing
    and would cost every authenticated request.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(subject: Subject, key: str) -> bool:
    """Whether `key` is the subject's key, compared in constant time."""
    return hmac.compare_digest(hash_key(key), subject.key_hash)
