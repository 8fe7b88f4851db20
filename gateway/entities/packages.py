"""Package create and update semantics, and the package views: pure functions, no Starlette, no store."""

from __future__ import annotations

import msgspec

from gateway.config import LimitsConfig
from gateway.entities.actions import check_key_values, given_or, next_version
from gateway.entities.resolve import merge_key_values
from gateway.wire.errors import PACKAGE_TO_BINDING, ApiError
from gateway.wire.models import (
    Action,
    ActionBrief,
    Binding,
    KeyValue,
    Package,
    PackageDetail,
    PackagePut,
    PackageSummary,
)

DEFAULT_PACKAGE = "default"


def binding_annotation(binding: Binding) -> KeyValue:
    """The `binding` annotation the server keeps on every binding."""
    return KeyValue("binding", {"namespace": binding.namespace, "name": binding.name})


def create_package(
    put: PackagePut, namespace: str, name: str, binding: Binding, *, bounds: LimitsConfig, now_ms: int
) -> Package:
    """The package (or, with a non-empty `binding`, the binding) a PUT creates."""
    annotations = merge_key_values(put.annotations or ())
    if binding:
        annotations = [*(a for a in annotations if a.key != "binding"), binding_annotation(binding)]
    package = Package(
        namespace=namespace,
        name=name,
        version=next_version(put.version, None),
        publish=bool(put.publish),
        binding=binding,
        parameters=merge_key_values(put.parameters or ()),
        annotations=annotations,
        updated=now_ms,
    )
    check_key_values(package.parameters, package.annotations, bounds)
    return package


def update_package(
    old: Package, put: PackagePut, binding: Binding | None, *, bounds: LimitsConfig, now_ms: int
) -> Package:
    """`old` with the given fields replaced; `binding` None keeps the old one.

    409 when a package would become a binding. Parameters and annotations are replaced when given
    (not merged, unlike actions'); a binding keeps its `binding` annotation.
    """
    if binding and not old.binding:
        raise ApiError(409, PACKAGE_TO_BINDING)
    binding = binding or old.binding
    annotations = merge_key_values(given_or(put.annotations, old.annotations))
    if binding:
        annotations = [*(a for a in annotations if a.key != "binding"), binding_annotation(binding)]
    package = msgspec.structs.replace(
        old,
        version=next_version(put.version, old.version),
        publish=given_or(put.publish, old.publish),
        binding=binding,
        parameters=merge_key_values(given_or(put.parameters, old.parameters)),
        annotations=annotations,
        updated=now_ms,
    )
    check_key_values(package.parameters, package.annotations, bounds)
    return package


def summarize_package(package: Package) -> PackageSummary:
    """The list view: `binding` is `false` for a package, `{namespace, name}` for a binding."""
    return PackageSummary(
        namespace=package.namespace,
        name=package.name,
        version=package.version,
        publish=package.publish,
        annotations=package.annotations,
        binding=package.binding if package.binding else False,
        updated=package.updated,
    )


def detail(package: Package, actions: list[Action], bound: Package | None = None) -> PackageDetail:
    """`GET /packages/{name}`: the package (for a binding, the binding's own document with the bound
    package's parameters under its own), its actions, and its feeds (actions with a `feed` annotation)."""
    parameters = package.parameters if bound is None else merge_key_values(bound.parameters, package.parameters)
    briefs = [(ActionBrief(a.name, a.version, a.annotations), a.annotated("feed")) for a in actions]
    return PackageDetail(
        namespace=package.namespace,
        name=package.name,
        version=package.version,
        publish=package.publish,
        binding=package.binding,
        parameters=parameters,
        annotations=package.annotations,
        actions=[brief for brief, feed in briefs if not feed],
        feeds=[brief for brief, feed in briefs if feed],
        updated=package.updated,
    )
