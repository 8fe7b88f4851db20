"""From `/namespace[/package]/name` to the action that runs or shows: packages, bindings, merged parameters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from gateway.entities.names import entity_name, namespace_name
from gateway.store import Entity, EntityKind, Store
from gateway.wire import errors
from gateway.wire.errors import NOT_FOUND, WRONG_COLLECTION, ApiError
from gateway.wire.models import Action, KeyValue, Package, action_decoder, package_decoder


@dataclass(frozen=True, slots=True)
class QualifiedName:
    """An entity named by namespace, optional package and simple name."""

    namespace: str
    package: str | None
    name: str

    @property
    def path(self) -> str:
        """`ns` or `ns/pkg`: where the entity is stored."""
        return self.namespace if self.package is None else f"{self.namespace}/{self.package}"

    @property
    def fully_qualified_name(self) -> str:
        """`ns[/pkg]/name`, without the leading slash (the form of `path` annotations and rule keys)."""
        return f"{self.path}/{self.name}"

    def __str__(self) -> str:
        return f"/{self.fully_qualified_name}"


def parse_qualified_name(text: str, caller_namespace: str) -> QualifiedName:
    """`/ns/name` or `/ns/pkg/name` (`_` is the caller's namespace); the leading slash may be left out.

    A bare `name` is in the caller's namespace. Raises `ApiError` 400 on an illegal segment or shape.
    """
    segments = text.strip().removeprefix("/").split("/")
    if len(segments) == 1:
        return QualifiedName(caller_namespace, None, entity_name(segments[0]))
    if len(segments) > 3:
        raise ApiError(400, errors.not_fully_qualified(text))
    namespace = caller_namespace if segments[0] == "_" else namespace_name(segments[0])
    package = entity_name(segments[1]) if len(segments) == 3 else None
    return QualifiedName(namespace, package, entity_name(segments[-1]))


@dataclass(frozen=True, slots=True)
class ResolvedAction:
    """An action ready to run or show.

    1. `action.parameters` are merged: package < binding < action (a later key wins).
    2. `action.namespace` is the action's own path (`ns` or `ns/pkg`), also when it was reached through
       a binding: records show that original package in their `path` annotation.
    3. `binding` is `ns/binding` when the action was reached through a package binding, for the
       records' `binding` annotation and the activation's `name` filter (`binding/action`); else None.
    """

    action: Action
    binding: str | None = None

    @property
    def record_path(self) -> str:
        """The path activations of this action are listed under: the binding's when there is one."""
        return self.binding or self.action.namespace


@dataclass(frozen=True, slots=True)
class ResolvedPackage:
    """A package as its actions see it: `package` is the one holding them, reached directly or
    through `binding`; `parameters` are merged package < binding."""

    package: Package
    binding: Package | None
    parameters: list[KeyValue]

    @property
    def path(self) -> str:
        """`ns/pkg` of the package that holds the actions."""
        return f"{self.package.namespace}/{self.package.name}"


async def get_package(store: Store, namespace: str, name: str) -> Package | None:
    """The package or binding stored at `namespace/name`, or None when there is none (or it is not a package)."""
    entity = await store.get_entity(namespace, name)
    if entity is None or entity.kind != EntityKind.PACKAGE:
        return None
    return package_decoder.decode(entity.doc)


async def resolve_package(store: Store, namespace: str, name: str) -> ResolvedPackage:
    """The package `namespace/name`, followed through its binding when it is one.

    Raises `ApiError` 404 when the package, or the package a binding refers to, does not exist.
    """
    package = await get_package(store, namespace, name)
    if package is None:
        raise ApiError(404, NOT_FOUND)
    if not package.binding:
        return ResolvedPackage(package, None, package.parameters)
    bound = await get_package(store, package.binding.namespace, package.binding.name)
    if bound is None or bound.binding:  # a binding's target is never a binding; treat one as missing
        raise ApiError(404, NOT_FOUND)
    return ResolvedPackage(bound, package, merge_key_values(bound.parameters, package.parameters))


async def resolve_action(store: Store, namespace: str, package: str | None, name: str) -> ResolvedAction:
    """The action `/namespace[/package]/name` to run or show; `package` None is the default package.

    Does no entitlement check: callers that act for an identity check it first (`auth.authorize`,
    `auth.authorize_package`). Raises `ApiError` 404 `The requested resource does not exist.` when the
    package, a binding's package or the action is missing, and 409 `Resource by this name exists but is
    not in this collection.` when the name is another kind of entity.
    """
    if package is None:
        return ResolvedAction(await get_action(store, namespace, name))
    resolved = await resolve_package(store, namespace, package)
    action = await get_action(store, resolved.path, name)
    merged = merge_key_values(resolved.parameters, action.parameters)
    action = msgspec.structs.replace(action, parameters=merged)
    binding = None if resolved.binding is None else f"{namespace}/{package}"
    return ResolvedAction(action, binding)


async def get_existing(store: Store, kind: EntityKind, path: str, name: str) -> Entity:
    """The entity of `kind` stored at `path/name`: 404 when there is none, 409 when the name is another
    kind of entity."""
    entity = await store.get_entity(path, name)
    if entity is None:
        raise ApiError(404, NOT_FOUND)
    if entity.kind != kind:
        raise ApiError(409, WRONG_COLLECTION)
    return entity


async def get_action(store: Store, path: str, name: str) -> Action:
    """The action stored at `path/name`, as stored (no package parameters). 404/409 as `resolve_action`."""
    return action_decoder.decode((await get_existing(store, EntityKind.ACTION, path, name)).doc)


def merge_key_values(*layers: Iterable[KeyValue]) -> list[KeyValue]:
    """Key/value layers (parameters, annotations) merged in order: a later layer's key replaces an earlier one in its place, and
    a key repeated within a layer keeps its first place and its last value. Linear in the number of
    items (one dict), however many layers and repeats: tenants send tens of thousands of them."""
    by_key: dict[str, KeyValue] = {}
    for layer in layers:
        for item in layer:
            by_key[item.key] = item
    return list(by_key.values())
