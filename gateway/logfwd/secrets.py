"""Destination secrets encrypted at rest with a key kept in the data directory (0600).

The construction uses the standard library only (`cryptography` is not in requirements.lock): a 256-bit
key file; encryption is HMAC-SHA256 in counter mode (a PRF used as a stream cipher) with a random 128-bit
nonce, authenticated encrypt-then-MAC with a second HMAC-SHA256 key over the namespace, nonce and
ciphertext. A stolen database alone reveals no secret; the key file and the database together do.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 32


class SecretError(Exception):
    """A stored secret cannot be read back: the key file changed or the data was altered."""


class SecretBox:
    """Encrypts and decrypts secrets bound to a namespace (a ciphertext moved to another namespace fails)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a log-forwarding key is {KEY_BYTES} bytes, not {len(key)}")
        self._cipher_key = hmac.digest(key, b"whisklet logfwd cipher", hashlib.sha256)
        self._mac_key = hmac.digest(key, b"whisklet logfwd mac", hashlib.sha256)

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """Read the key at `path`, creating it (0600, never through a symbolic link) on first use."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            pass
        else:
            try:
                os.write(fd, os.urandom(KEY_BYTES))
            finally:
                os.close(fd)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o600)
            key = os.read(fd, KEY_BYTES + 1)
        finally:
            os.close(fd)
        if len(key) != KEY_BYTES:
            raise SecretError(
                f"the log-forwarding key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES}):"
                " restore it from a backup, or remove it and set the namespaces' log forwarding again"
            )
        return cls(key)

    def seal(self, namespace: str, secret: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = secret.encode()
        sealed = bytes(a ^ b for a, b in zip(plain, self._keystream(nonce, len(plain)), strict=True))
        return nonce + sealed + self._tag(namespace, nonce, sealed)

    def open(self, namespace: str, data: bytes) -> str:
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise SecretError("a stored log-forwarding secret is truncated; set the namespace's log forwarding again")
        nonce, sealed, tag = data[:NONCE_BYTES], data[NONCE_BYTES:-TAG_BYTES], data[-TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(namespace, nonce, sealed)):
            raise SecretError(
                "a stored log-forwarding secret does not match the key file (was the key replaced?);"
                " set the namespace's log forwarding again"
            )
        return bytes(a ^ b for a, b in zip(sealed, self._keystream(nonce, len(sealed)), strict=True)).decode()

    def _keystream(self, nonce: bytes, size: int) -> bytes:
        blocks = (size + 31) // 32
        stream = b"".join(
            hmac.digest(self._cipher_key, nonce + n.to_bytes(8, "big"), hashlib.sha256) for n in range(blocks)
        )
        return stream[:size]

    def _tag(self, namespace: str, nonce: bytes, sealed: bytes) -> bytes:
        name = namespace.encode()
        message = len(name).to_bytes(4, "big") + name + nonce + sealed
        return hmac.digest(self._mac_key, message, hashlib.sha256)
