"""A namespace's routes, compiled once per stored revision, and the lookup of a request's route (§8.2).

Lookup is segment by segment against literal paths (a dict) and `{name}` templates grouped by
segment count, so its cost is bounded by the request's segments and the API's own (bounded) paths;
no tenant-supplied text is ever used as a pattern.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import msgspec

from gateway.routes.paths import MAX_SEGMENTS, VERBS, parameter_name, segments
from gateway.routes.targets import RouteTarget, TargetProblem, operation_target
from gateway.store import Api

COMPILED_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Resource:
    """One path of an API: its verbs (lower case) and what each runs (None: mapped to no action)."""

    path: str
    operations: dict[str, RouteTarget | None]


@dataclass(slots=True)
class CompiledApi:
    base_path: str
    base_segments: list[str]
    title: str | None
    cors: bool
    operation_count: int
    exact: dict[tuple[str, ...], Resource] = field(default_factory=dict)
    templates: dict[int, list[tuple[list[str | None], Resource]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """A request's route: the API, the resource and the path left over past the resource."""

    api: CompiledApi
    resource: Resource
    remainder: str


def compile_api(api: Api) -> CompiledApi:
    doc = msgspec.json.decode(api.doc)
    config = doc.get("x-ibm-configuration") or doc.get("x-gateway-configuration")
    cors = config.get("cors", {}) if isinstance(config, dict) else {}
    info = doc.get("info")
    title = info.get("title") if isinstance(info, dict) else None
    compiled = CompiledApi(api.base_path, segments(api.base_path), title if isinstance(title, str) else None,
                           bool(isinstance(cors, dict) and cors.get("enabled")), 0)
    for path, operations in (doc.get("paths") or {}).items():
        if not path.startswith("/") or not isinstance(operations, dict):
            continue
        targets: dict[str, RouteTarget | None] = {}
        for verb, operation in operations.items():
            if verb.lower() not in VERBS or not isinstance(operation, dict):
                continue
            try:
                targets[verb.lower()] = operation_target(doc, operation)
            except TargetProblem:
                targets[verb.lower()] = None
        compiled.operation_count += len(targets)
        resource = Resource(path, targets)
        parts = segments(path)
        names = [parameter_name(part) for part in parts]
        if any(name is not None for name in names):
            pattern = [None if name is not None else part for part, name in zip(parts, names, strict=True)]
            compiled.templates.setdefault(len(parts), []).append((pattern, resource))
        else:
            compiled.exact[tuple(parts)] = resource
    return compiled


def find_route(apis: list[CompiledApi], request_segments: list[str]) -> Match | None:
    """The route of a request whose path after the namespace is `request_segments`: the API with
    the longest matching base path, then the exact resource, then a template, then the same with the
    last segment dropped (what is dropped is the remainder). At most `MAX_SEGMENTS` + 1 lookups per
    API, whatever the request's length."""
    for api in sorted(apis, key=lambda candidate: -len(candidate.base_segments)):
        base = api.base_segments
        if request_segments[: len(base)] != base:
            continue
        rest = request_segments[len(base):]
        for end in range(min(len(rest), MAX_SEGMENTS), -1, -1):  # no resource is longer: no O(n^2) on long URLs
            resource = _resource(api, rest[:end])
            if resource is not None:
                remainder = "".join(f"/{part}" for part in rest[end:])
                return Match(api, resource, remainder)
    return None


def _resource(api: CompiledApi, parts: list[str]) -> Resource | None:
    exact = api.exact.get(tuple(parts))
    if exact is not None:
        return exact
    for pattern, resource in api.templates.get(len(parts), ()):
        if all(literal is None or literal == part for literal, part in zip(pattern, parts, strict=True)):
            return resource
    return None


class CompiledApis:
    """Compiled APIs by (namespace, base path, document), least recently used forgotten first.

    The store caches the rows and drops them on every write; a changed document compiles anew (keyed
    by the document's bytes, whose hash Python computes once per bytes object).
    """

    def __init__(self, size: int = COMPILED_CACHE_SIZE) -> None:
        self._size = size
        self._compiled: OrderedDict[tuple[str, str, bytes], CompiledApi] = OrderedDict()

    def get(self, api: Api) -> CompiledApi:
        key = (api.namespace, api.base_path, api.doc)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_api(api)
            self._compiled[key] = compiled
            if len(self._compiled) > self._size:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        return compiled

