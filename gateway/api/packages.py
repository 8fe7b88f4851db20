"""`/namespaces/{ns}/packages`: list, get, create/update (packages and bindings) and delete packages."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.collection import count_response, delete_entity, existing_for_put, named, write_entity
from gateway.clock import Clock
from gateway.config import LimitsConfig
from gateway.entities.auth import Authenticator, authorize, authorize_package, resolve_namespace
from gateway.entities.names import entity_name, flag, namespace_name, page
from gateway.entities.packages import DEFAULT_PACKAGE, create_package, detail, summarize_package, update_package
from gateway.entities.resolve import get_existing, get_package
from gateway.store import Entity, EntityKind, Store
from gateway.wire.codec import decode, json_response, read_body
from gateway.wire.errors import (
    BINDING_DOES_NOT_EXIST,
    BINDING_TO_BINDING,
    DEFAULT_PACKAGE_RESERVED,
    NOT_FOUND,
    ApiError,
    forbidden,
    package_not_empty,
)
from gateway.wire.models import (
    Action,
    Binding,
    BindingPut,
    Identity,
    Package,
    action_decoder,
    package_decoder,
    package_put_decoder,
)

MAX_PACKAGE_ACTIONS = 10_000  # the actions a package GET or a forced DELETE deals with


def routes(bounds: LimitsConfig, store: Store, authenticate: Authenticator, clock: Clock) -> list[Route]:
    put_max_bytes = 2 * bounds.parameters_max_bytes + 65536

    async def fetch(namespace: str, name: str) -> tuple[Entity, Package]:
        entity = await get_existing(store, EntityKind.PACKAGE, namespace, name)
        return entity, package_decoder.decode(entity.doc)

    async def actions_of(path: str) -> list[Action]:
        rows = await store.list_entities(EntityKind.ACTION, path.split("/", 1)[0], path, limit=MAX_PACKAGE_ACTIONS, skip=0)
        return [action_decoder.decode(row.doc) for row in rows]

    async def list_packages(request: Request) -> Response:
        """Own namespace: every package and binding. Another one: its published packages only."""
        identity = await authenticate(request)
        namespace = resolve_namespace(identity, request.path_params["ns"])
        listing = page(request.query_params, "packages")
        if namespace == identity.namespace:
            if listing.count:
                return await count_response(store, EntityKind.PACKAGE, "packages", namespace, listing.skip)
            rows = await store.list_entities(EntityKind.PACKAGE, namespace, limit=listing.limit, skip=listing.skip)
            return json_response([summarize_package(package_decoder.decode(row.doc)) for row in rows])
        rows = await store.list_entities(EntityKind.PACKAGE, namespace, limit=MAX_PACKAGE_ACTIONS, skip=0)
        shared = [p for p in (package_decoder.decode(row.doc) for row in rows) if p.publish and not p.binding]
        if listing.count:
            return json_response({"packages": max(len(shared) - listing.skip, 0)})
        return json_response([summarize_package(p) for p in shared[listing.skip : listing.skip + listing.limit]])

    async def get_package_detail(request: Request) -> Response:
        identity, namespace, name = await named(request, authenticate, authorized=False)
        await authorize_package(store, identity, namespace, name, f"{namespace}/{name}")
        _, package = await fetch(namespace, name)
        if not package.binding:
            return json_response(detail(package, await actions_of(f"{namespace}/{name}")))
        bound = await get_package(store, package.binding.namespace, package.binding.name)
        if bound is None:
            raise ApiError(404, NOT_FOUND)
        return json_response(detail(package, await actions_of(f"{bound.namespace}/{bound.name}"), bound))

    async def binding_target(identity: Identity, put: BindingPut) -> Binding:
        """The package a binding PUT names: it must exist, not be a binding, and be readable."""
        if not isinstance(put.namespace, str) or not isinstance(put.name, str):
            raise ApiError(400, BINDING_DOES_NOT_EXIST)
        namespace = identity.namespace if put.namespace == "_" else namespace_name(put.namespace)
        name = entity_name(put.name)
        target = await get_package(store, namespace, name)
        if target is None:
            raise ApiError(400, BINDING_DOES_NOT_EXIST)
        if target.binding:
            raise ApiError(400, BINDING_TO_BINDING)
        if namespace != identity.namespace and not target.publish:
            raise forbidden(f"{namespace}/{name}")
        return Binding(namespace, name)

    async def put_package(request: Request) -> Response:
        identity, namespace, name = await named(request, authenticate, authorized=False)
        authorize(identity, namespace, f"{namespace}/{name}")
        if name == DEFAULT_PACKAGE:
            raise ApiError(400, DEFAULT_PACKAGE_RESERVED)
        overwrite = flag(request.query_params, "overwrite")
        put = decode(await read_body(request, put_max_bytes), package_put_decoder)
        binding = None if put.binding is msgspec.UNSET or put.binding is None else await binding_target(identity, put.binding)
        existing = await existing_for_put(store, EntityKind.PACKAGE, namespace, name, overwrite)
        now_ms = clock.wall_ms()
        if existing is None:
            package = create_package(put, namespace, name, binding or Binding(), bounds=bounds, now_ms=now_ms)
        else:
            old = package_decoder.decode(existing.doc)
            package = update_package(old, put, binding, bounds=bounds, now_ms=now_ms)
        doc = await write_entity(store, EntityKind.PACKAGE, namespace, name, package, package.updated, existing)
        return json_response(msgspec.Raw(doc))

    async def delete_package(request: Request) -> Response:
        """A binding always goes; a package with actions only with `force=true`, its actions first."""
        identity, namespace, name = await named(request, authenticate, authorized=False)
        authorize(identity, namespace, f"{namespace}/{name}")
        entity, package = await fetch(namespace, name)
        if not package.binding:
            path = f"{namespace}/{name}"
            count = await store.count_entities(EntityKind.ACTION, namespace, path)
            if count and not flag(request.query_params, "force"):
                raise package_not_empty(count)
            for action in await actions_of(path):
                await store.delete_entity(path, action.name)
        return await delete_entity(store, namespace, name, entity.revision)

    by_method = {"GET": get_package_detail, "PUT": put_package, "DELETE": delete_package}

    async def package(request: Request) -> Response:
        return await by_method[request.method](request)

    return [
        Route("/api/v1/namespaces/{ns}/packages", list_packages, methods=["GET"]),
        Route("/api/v1/namespaces/{ns}/packages/{name}", package, methods=["GET", "PUT", "DELETE"]),
    ]
