"""Basic authentication of REST requests, the `_` namespace alias, and who may act in which namespace."""

from __future__ import annotations

import binascii
from base64 import b64decode

import msgspec
from starlette.requests import Request

from gateway.errors import AUTH_INVALID, AUTH_MISSING, forbidden, unauthorized
from gateway.models import Identity, NamespaceLimits
from gateway.names import namespace_name
from gateway.store import Store, key_matches

_limits_decoder = msgspec.json.Decoder(NamespaceLimits)


class Authenticator:
    """Resolves `Authorization: Basic base64(uuid:key)` to the `Identity` of the subject with that uuid.

    1. No Basic credentials: 401 `AUTH_MISSING`; malformed ones, an unknown uuid or a wrong key: 401
       `AUTH_INVALID`. Both carry `WWW-Authenticate`.
    2. The key is compared in constant time against the stored hash (`key_matches`). Subjects are read
       through the store's cache, so a deleted subject or changed limits take effect at once.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, request: Request) -> Identity:
        scheme, _, encoded = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise unauthorized(AUTH_MISSING)
        uuid, key = _credentials(encoded.strip())
        subject = await self.store.get_subject_by_uuid(uuid)
        if subject is None or not key_matches(subject, key):
            raise unauthorized(AUTH_INVALID)
        return Identity(
            subject=subject.namespace,
            namespace=subject.namespace,
            uuid=subject.uuid,
            authkey=f"{uuid}:{key}",
            limits=_limits_decoder.decode(subject.limits),
        )


def _credentials(encoded: str) -> tuple[str, str]:
    try:
        decoded = b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized(AUTH_INVALID) from None
    uuid, colon, key = decoded.partition(":")
    if not colon or not uuid or not key:
        raise unauthorized(AUTH_INVALID)
    return uuid, key


def resolve_namespace(identity: Identity, segment: str) -> str:
    """The namespace a `/namespaces/{segment}` path names: `_` is the caller's own."""
    return identity.namespace if segment == "_" else namespace_name(segment)


def authorize(identity: Identity, namespace: str, resource: str) -> None:
    """403 unless `identity` may act on `resource` (`ns`, `ns/name` or `ns/pkg/name`) in `namespace`.

    Decided before any lookup, so a missing entity in a foreign namespace is a 403, not a 404.
    Today a caller acts only in its own namespace; reading and invoking inside published packages of
    other namespaces will be allowed here when packages arrive.
    """
    if namespace != identity.namespace:
        raise forbidden(resource)
