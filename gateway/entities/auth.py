"""Basic authentication of REST requests, the `_` namespace alias, and who may act in which namespace."""

from __future__ import annotations

from base64 import b64decode

import msgspec
from starlette.requests import Request

from gateway.entities.names import namespace_name
from gateway.entities.resolve import get_package
from gateway.store import Store, Subject, key_matches
from gateway.wire.errors import AUTH_INVALID, AUTH_MISSING, forbidden, unauthorized
from gateway.wire.models import Identity, NamespaceLimits, Package

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
        return identity_of(subject, f"{uuid}:{key}")


def identity_of(subject: Subject, authkey: str) -> Identity:
    """The identity a request authenticated as `subject` acts as (`authkey` may be empty when the
    system acts for the namespace, e.g. a scheduled alarm fire)."""
    return Identity(
        subject=subject.namespace,
        namespace=subject.namespace,
        uuid=subject.uuid,
        authkey=authkey,
        limits=_limits_decoder.decode(subject.limits),
    )


def _credentials(encoded: str) -> tuple[str, str]:
    try:
        decoded = b64decode(encoded, validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 (UnicodeDecodeError)
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
    Reading and invoking inside published packages of other namespaces is `authorize_package`'s.
    """
    if namespace != identity.namespace:
        raise forbidden(resource)


async def authorize_package(store: Store, identity: Identity, namespace: str, package: str, resource: str) -> None:
    """403 unless `identity` may READ the package `namespace/package` or READ and ACTIVATE the
    actions in it (`resource` is what the message names).

    Its own namespace is always allowed. In another namespace the package must be published, or be a
    binding to a published package or to a package of the caller's own; a missing package is a 403.
    """
    if namespace == identity.namespace:
        return
    found = await get_package(store, namespace, package)
    if found is None or not await _shared(store, identity, found):
        raise forbidden(resource)


async def _shared(store: Store, identity: Identity, package: Package) -> bool:
    if not package.binding:
        return package.publish
    if package.binding.namespace == identity.namespace:
        return True
    bound = await get_package(store, package.binding.namespace, package.binding.name)
    return bound is not None and bound.publish and not bound.binding
