"""Swagger 2.0 documents as OpenWhisk's route management builds and edits them (§3.4, §5).

Pure functions over the decoded document (`dict`); nothing here stores or serves.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gateway.routes.paths import operation_id

REQUEST_PATH = "$(request.path)"
WHISK_AUTH_HEADER = "X-Require-Whisk-Auth"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route to add: `verb` on `path` of an API runs `action` (`package/name` or `name`) of
    `namespace` through its web URL with `response_type` (`json`, `http`, ...)."""

    path: str
    verb: str
    namespace: str
    action: str
    response_type: str
    web_host: str  # `scheme://host[:port]` of the web URL
    path_parameters: list[dict[str, Any]]
    secure_key: Any = None


def base_document(title: str, base_path: str) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0.0"},
        "basePath": base_path,
        "paths": {},
        "x-ibm-configuration": {"assembly": {}, "cors": {"enabled": True}},
    }


def web_url(endpoint: Endpoint) -> str:
    package, _, name = endpoint.action.rpartition("/")
    return (f"{endpoint.web_host}/api/v1/web/{endpoint.namespace}/{package or 'default'}/{name}"
            f".{endpoint.response_type}")


def add_endpoint(doc: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """`doc` with `endpoint` added, replacing the same verb on the same path (the input is not changed)."""
    doc = _copy(doc)
    verb = endpoint.verb.lower()
    op_id = operation_id(verb, endpoint.path)
    url = web_url(endpoint)
    package, _, name = endpoint.action.rpartition("/")
    operation: dict[str, Any] = {"operationId": op_id}
    if endpoint.path_parameters:
        operation["parameters"] = endpoint.path_parameters
    operation["x-openwhisk"] = {"url": url, "namespace": endpoint.namespace, "package": package, "action": name}
    operation["responses"] = {"default": {"description": "Default response"}}
    doc.setdefault("paths", {}).setdefault(endpoint.path, {})[verb] = operation

    target = url + REQUEST_PATH if endpoint.response_type == "http" else url
    steps: list[dict[str, Any]] = [{"invoke": {"target-url": target, "verb": "keep"}}]
    if endpoint.secure_key is not None:
        steps.append({"set-variable": {"actions": [
            {"set": f"message.headers.{WHISK_AUTH_HEADER}", "value": endpoint.secure_key}]}})
    cases = _switch_cases(doc, create=True)
    case = {"operations": [op_id], "execute": steps}
    for index, existing in enumerate(cases):
        if _case_operations(existing)[:1] == [op_id]:
            cases[index] = case
            break
    else:
        cases.append(case)
    return doc


def remove_endpoints(doc: dict[str, Any], path: str, verb: str | None) -> dict[str, Any]:
    """`doc` without `verb` on `path` (all verbs when None); a path left with no verb goes too."""
    doc = _copy(doc)
    paths = doc.get("paths", {})
    operations = paths.get(path, {})
    verbs = [verb] if verb is not None else [key for key in operations if isinstance(operations.get(key), dict)]
    removed = set()
    for key in verbs:
        operation = operations.pop(key, None)
        if isinstance(operation, dict):
            removed.add(operation_id(key, path))
            if isinstance(operation.get("operationId"), str):
                removed.add(operation["operationId"])
    if not any(isinstance(value, dict) for value in operations.values()):
        paths.pop(path, None)
    cases = _switch_cases(doc, create=False)
    cases[:] = [case for case in cases if not set(_case_operations(case)) & removed]
    return doc


def has_operations(doc: dict[str, Any]) -> bool:
    paths = doc.get("paths")
    return isinstance(paths, dict) and any(
        key.startswith("/") and isinstance(ops, dict) and ops for key, ops in paths.items()
    )


def operation_count(doc: dict[str, Any]) -> int:
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return 0
    return sum(len(ops) for key, ops in paths.items() if key.startswith("/") and isinstance(ops, dict))


def switch_cases(doc: dict[str, Any]) -> list[Any]:
    """The `operation-switch` cases of the document's assembly (an empty list when there are none)."""
    return _switch_cases(doc, create=False)


def _switch_cases(doc: dict[str, Any], *, create: bool) -> list[Any]:
    config = doc.get("x-ibm-configuration")
    if not isinstance(config, dict):
        if not create:
            return []
        config = doc["x-ibm-configuration"] = {"assembly": {}, "cors": {"enabled": True}}
    assembly = config.get("assembly")
    if not isinstance(assembly, dict):
        if not create:
            return []
        assembly = config["assembly"] = {}
    execute = assembly.get("execute")
    if not isinstance(execute, list):
        if not create:
            return []
        execute = assembly["execute"] = []
    for step in execute:
        if isinstance(step, dict) and isinstance(step.get("operation-switch"), dict):
            cases = step["operation-switch"].setdefault("case", [])
            if isinstance(cases, list):
                return cases
    if not create:
        return []
    cases = []
    execute.append({"operation-switch": {"case": cases}})
    return cases


def _case_operations(case: Any) -> list[Any]:
    operations = case.get("operations") if isinstance(case, dict) else None
    return operations if isinstance(operations, list) else []


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)
