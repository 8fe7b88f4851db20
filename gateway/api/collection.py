"""What every entity collection does alike: PUT's overwrite rules, DELETE at a revision, counted lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.entities.auth import Authenticator, authorize, resolve_namespace
from gateway.entities.names import entity_name, page
from gateway.store import Conflict, Entity, EntityKind, Store
from gateway.wire.codec import json_response
from gateway.wire.errors import ALREADY_EXISTS, CONFLICT, NOT_FOUND, WRONG_COLLECTION, ApiError
from gateway.wire.models import Identity, encoder


async def named(
    request: Request, authenticate: Authenticator, *, authorized: bool = True
) -> tuple[Identity, str, str]:
    """Who asks, and the namespace and entity name `/namespaces/{ns}/<collection>/{name}` names; with
    `authorized`, 403 unless the caller may act on that entity (else the handler decides)."""
    identity = await authenticate(request)
    namespace = resolve_namespace(identity, request.path_params["ns"])
    name = entity_name(request.path_params["name"])
    if authorized:
        authorize(identity, namespace, f"{namespace}/{name}")
    return identity, namespace, name


async def existing_for_put(store: Store, kind: EntityKind, path: str, name: str, overwrite: bool) -> Entity | None:
    """The entity a PUT would replace: None to create; 409 without `overwrite` or in another collection."""
    existing = await store.get_entity(path, name)
    if existing is not None:
        if not overwrite:
            raise ApiError(409, ALREADY_EXISTS)
        if existing.kind != kind:
            raise ApiError(409, WRONG_COLLECTION)
    return existing


async def write_entity(
    store: Store, kind: EntityKind, path: str, name: str, value: Any, updated: int, existing: Entity | None
) -> bytes:
    """Store `value` over `existing` (or as new); a lost race is OpenWhisk's 409. Returns the document."""
    doc = encoder.encode(value)
    try:
        await store.put_entity(kind, path, name, doc, updated, None if existing is None else existing.revision)
    except Conflict:
        raise ApiError(409, ALREADY_EXISTS if existing is None else CONFLICT) from None
    return doc


async def remove_entity(store: Store, path: str, name: str, revision: int) -> Entity:
    """Delete the entity read at `revision` and return it; 409 if it changed since, 404 if it is gone."""
    try:
        deleted = await store.delete_entity(path, name, revision)
    except Conflict:
        raise ApiError(409, CONFLICT) from None
    if deleted is None:
        raise ApiError(404, NOT_FOUND)
    return deleted


async def delete_entity(store: Store, path: str, name: str, revision: int) -> Response:
    """Delete the entity read at `revision` and answer with the deleted document."""
    return json_response(msgspec.Raw((await remove_entity(store, path, name, revision)).doc))


async def count_response(
    store: Store, kind: EntityKind, collection: str, namespace: str, skip: int, path: str | None = None
) -> Response:
    """`{"<collection>": n}` for `count=true`, honouring `skip`."""
    count = await store.count_entities(kind, namespace, path)
    return json_response({collection: max(count - skip, 0)})


async def list_response(
    store: Store,
    kind: EntityKind,
    collection: str,
    namespace: str,
    query: Mapping[str, str],
    render: Callable[[Entity], Any],
    path: str | None = None,
) -> Response:
    """A collection GET: `limit`/`skip` pages newest first, each entity rendered, or the `count`."""
    listing = page(query, collection)
    if listing.count:
        return await count_response(store, kind, collection, namespace, listing.skip, path)
    rows = await store.list_entities(kind, namespace, path, limit=listing.limit, skip=listing.skip)
    return json_response([render(row) for row in rows])
