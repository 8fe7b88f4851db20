"""The system catalog: the public `whisk.system` namespace, its `utils` and `alarms` packages, and the
private `apimgmt` package of the route-management web actions (served in `gateway/routes/`).

Installed at every start: what is missing is created and what differs from this release's catalog is
updated (version patch + 1); nothing else in `whisk.system` is touched. The namespace's key is never
shown: nobody acts as `whisk.system`, everybody reads and invokes its published packages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from gateway.config import LimitsConfig
from gateway.entities.actions import create_action, next_version
from gateway.entities.namespaces import create_namespace
from gateway.entities.packages import create_package
from gateway.store import Conflict, EntityKind, Store
from gateway.wire.models import ActionPut, Binding, PackagePut, action_decoder, encoder, package_decoder

log = logging.getLogger("whisklet.catalog")

SYSTEM_NAMESPACE = "whisk.system"
_SOURCES = Path(__file__).resolve().parent

FEED_CODE = (
    "// The alarms feeds run inside Whisklet itself (gateway/events/alarms/), not in a container.\n"
    "function main() { return {error: 'This feed action is served by Whisklet; this code never runs.'}; }\n"
)
ROUTES_CODE = (
    "// The route-management actions run inside Whisklet itself (gateway/routes/), not in a container.\n"
    "function main() { return {error: 'This action is served by Whisklet; this code never runs.'}; }\n"
)


@dataclass(frozen=True)
class CatalogAction:
    name: str
    description: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    sample_input: dict[str, Any] | None = None
    sample_output: dict[str, Any] | None = None
    feed: bool = False
    web: bool = False  # a built-in web action (`apimgmt`), web-exported and final

    def put(self, package: str) -> ActionPut:
        annotations = [{"key": "description", "value": self.description},
                       {"key": "parameters", "value": self.parameters}]
        if self.sample_input is not None:
            annotations.append({"key": "sampleInput", "value": self.sample_input})
        if self.sample_output is not None:
            annotations.append({"key": "sampleOutput", "value": self.sample_output})
        if self.feed:
            annotations.insert(0, {"key": "feed", "value": True})
            code = FEED_CODE
        elif self.web:
            annotations[:0] = [{"key": "web-export", "value": True}, {"key": "final", "value": True}]
            code = ROUTES_CODE
        else:
            code = (_SOURCES / package / f"{self.name}.js").read_text()
        return msgspec.convert({"exec": {"kind": "nodejs:default", "code": code}, "annotations": annotations}, ActionPut)


@dataclass(frozen=True)
class CatalogPackage:
    name: str
    description: str
    actions: tuple[CatalogAction, ...]
    parameters: list[dict[str, Any]] = field(default_factory=list)
    publish: bool = True

    def put(self) -> PackagePut:
        annotations = [{"key": "description", "value": self.description}, {"key": "parameters", "value": self.parameters}]
        return msgspec.convert({"publish": self.publish, "annotations": annotations}, PackagePut)


_LINES = {"name": "lines", "required": True, "type": "array", "description": "An array of strings or numbers"}

CATALOG = (
    CatalogPackage("utils", "Building blocks that format and assemble data", (
        CatalogAction("cat", "Concatenates input into a string", [_LINES],
                      {"lines": [4, 2, 3]}, {"lines": [4, 2, 3], "payload": "4\n2\n3"}),
        CatalogAction("date", "Current date and time", [], None, {"date": "2016-03-22T00:59:55.961Z"}),
        CatalogAction("echo", "Returns the input", [{"name": "payload", "required": False, "description": "Any JSON entity"}],
                      {"payload": "Five fuzzy felines"}, {"payload": "Five fuzzy felines"}),
        CatalogAction("head", "Extract prefix of an array",
                      [_LINES, {"name": "num", "required": False, "type": "integer",
                                "description": "The number of elements to extract"}],
                      {"lines": [4, 2, 3], "num": 2}, {"lines": [4, 2], "num": 2}),
        CatalogAction("smash", "Nests all properties under given property.",
                      [{"name": "fieldName", "required": True, "type": "string",
                        "description": "The name of the property to nest under"}],
                      {"a": 1, "fieldName": "foo"}, {"foo": {"a": 1}}),
        CatalogAction("sort", "Sorts an array", [_LINES], {"lines": [4, 2, 3]}, {"lines": [2, 3, 4], "length": 3}),
        CatalogAction("split", "Split a string into an array",
                      [{"name": "payload", "required": True, "type": "string", "description": "A string"},
                       {"name": "separator", "required": False, "type": "string",
                        "description": "The character, or the regular expression, to use for splitting the string"}],
                      {"payload": "one,two,three", "separator": ","},
                      {"lines": ["one", "two", "three"], "payload": "one,two,three"}),
    )),
    CatalogPackage("alarms", "Alarms and periodic utility", (
        CatalogAction("alarm", "Fire trigger when alarm occurs", [
            {"name": "cron", "required": True, "description": "A cron expression: 5 fields, or 6 with seconds first"},
            {"name": "timezone", "required": False},
            {"name": "trigger_payload", "required": False},
            {"name": "startDate", "required": False},
            {"name": "stopDate", "required": False},
        ], {"cron": "0 0 1 * *", "trigger_payload": {"name": "John"}, "startDate": "2030-01-01T00:00:00.000Z",
            "stopDate": "2030-12-31T00:00:00.000Z"}, feed=True),
        CatalogAction("interval", "Fire trigger at specified interval", [
            {"name": "minutes", "required": True},
            {"name": "trigger_payload", "required": False},
            {"name": "startDate", "required": False},
            {"name": "stopDate", "required": False},
        ], {"minutes": 15, "trigger_payload": {"name": "John"}}, feed=True),
        CatalogAction("once", "Fire trigger once when alarm occurs", [
            {"name": "date", "required": True},
            {"name": "trigger_payload", "required": False},
            {"name": "deleteAfterFire", "required": False},
        ], {"date": "2030-01-01T00:00:00.000Z", "trigger_payload": {"name": "John"}, "deleteAfterFire": "rules"}, feed=True),
    ), [{"name": "trigger_payload", "required": False}]),
    CatalogPackage("apimgmt", "API gateway route management (wsk api, aio rt api)", (
        CatalogAction("createApi", "Creates or extends an API from an endpoint or a Swagger 2.0 document",
                      [{"name": "apidoc", "required": True}, {"name": "responsetype", "required": False}], web=True),
        CatalogAction("getApi", "Lists the namespace's APIs",
                      [{"name": "basepath", "required": False}, {"name": "limit", "required": False},
                       {"name": "skip", "required": False}], web=True),
        CatalogAction("deleteApi", "Deletes an API, one of its paths, or one verb of a path",
                      [{"name": "basepath", "required": True}, {"name": "relpath", "required": False},
                       {"name": "operation", "required": False}], web=True),
    ), publish=False),
)


async def install_catalog(store: Store, bounds: LimitsConfig, now_ms: int) -> None:
    """Create `whisk.system` if it is missing, and bring its catalog packages up to date."""
    if await store.get_subject(SYSTEM_NAMESPACE) is None:
        await create_namespace(store, SYSTEM_NAMESPACE)
        log.info("created the %s namespace for the system catalog", SYSTEM_NAMESPACE)
    for package in CATALOG:
        wanted = create_package(package.put(), SYSTEM_NAMESPACE, package.name, Binding(), bounds=bounds, now_ms=now_ms)
        await _install(store, EntityKind.PACKAGE, SYSTEM_NAMESPACE, package.name, wanted, now_ms)
        path = f"{SYSTEM_NAMESPACE}/{package.name}"
        for action in package.actions:
            wanted_action = create_action(action.put(package.name), path, action.name, bounds=bounds, now_ms=now_ms)
            await _install(store, EntityKind.ACTION, path, action.name, wanted_action, now_ms)


async def _install(store: Store, kind: EntityKind, path: str, name: str, wanted: Any, now_ms: int) -> None:
    existing = await store.get_entity(path, name)
    if existing is not None:
        decoder = action_decoder if kind == EntityKind.ACTION else package_decoder
        old = decoder.decode(existing.doc)
        if _content(old) == _content(wanted):
            return
        wanted = msgspec.structs.replace(wanted, version=next_version(None, old.version))
    doc = encoder.encode(wanted)
    try:
        await store.put_entity(kind, path, name, doc, now_ms, None if existing is None else existing.revision)
    except Conflict:
        log.warning("catalog entity %s/%s changed while it was being installed; left as it is", path, name)


def _content(entity: Any) -> dict[str, Any]:
    """What the catalog decides about an entity: everything but its version and update time."""
    fields: dict[str, Any] = msgspec.to_builtins(entity)
    fields.pop("version", None)
    fields.pop("updated", None)
    return fields
