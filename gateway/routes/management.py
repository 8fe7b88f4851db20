"""`createApi`, `getApi` and `deleteApi`: the route-management actions' semantics over the store (§3-§5).

Each takes the call's parameters (query and body merged, `undefined` and empty values already
dropped) and the caller's namespace, and returns the body of a 200 or raises `RouteFailure`, whose
message the client shows verbatim (a 502 `{"error": ...}`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from gateway.entities.resolve import resolve_action
from gateway.routes.document import Endpoint, add_endpoint, base_document, has_operations, remove_endpoints
from gateway.routes.paths import normalise_base_path, path_parameters, path_problem, verb_problem
from gateway.routes.table import CompiledApis
from gateway.routes.validation import MAX_DOC_BYTES, document_problem, namespace_problem
from gateway.store import Api, Conflict, Store
from gateway.web.request import is_web_action
from gateway.wire.errors import ApiError
from gateway.wire.jsonbody import decode_body
from gateway.wire.models import encoder

CREATION_FAILURE = "API creation failure: "
DELETION_FAILURE = "API deletion failure: "
RESPONSE_TYPES = ("json", "http", "html", "text", "svg")
WRITE_ATTEMPTS = 3


class RouteFailure(Exception):
    """A route-management call failed; `str()` is the message the client shows."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: `namespace` from valid credentials (None when anonymous), and the gateway's public
    base URL (`scheme://host[:port]`), from which `gwApiUrl` is built."""

    namespace: str | None
    public_base: str


def gw_api_url(public_base: str, namespace: str, base_path: str) -> str:
    """A managed API's URL: `/api/{namespace}{basePath}` (OpenWhisk's shape), or `/apis/...` for a
    namespace named `v1`, whose `/api/v1/...` would be the REST API itself."""
    prefix = "apis" if namespace == "v1" else "api"
    return f"{public_base}/{prefix}/{namespace}{'' if base_path == '/' else base_path}"


def api_object(api: Api, public_base: str) -> dict[str, Any]:
    """An API as clients read it (§3.5): the stored document, verbatim, under `apidoc`."""
    return {
        "namespace": "Not Used",
        "gwApiActivated": True,
        "tenantId": "Not Used",
        "gwApiUrl": gw_api_url(public_base, api.namespace, api.base_path),
        "apidoc": msgspec.Raw(api.doc),
    }


class RouteManagement:
    """The three actions over one store; compiled documents are shared with serving (`CompiledApis`).

    1. Writes of one namespace's APIs are serialised in this process (one lock per namespace, kept
       only while in use), so concurrent `wsk api create` calls on one base path all merge.
    2. Across processes a write is checked against the revision it read (`Conflict`) and redone.
    """

    def __init__(self, store: Store, compiled: CompiledApis, now_ms: Callable[[], int]) -> None:
        self._store = store
        self._compiled = compiled
        self._now_ms = now_ms
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def _writing(self, namespace: str) -> AsyncIterator[None]:
        lock = self._locks.get(namespace)
        if lock is None:
            lock = self._locks[namespace] = asyncio.Lock()
        async with lock:
            yield

    async def create(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.namespace is None:
            raise RouteFailure("A valid auth key is required.")
        async with self._writing(caller.namespace):
            return await self._create(params, caller, caller.namespace)

    async def _create(self, params: dict[str, Any], caller: Caller, namespace: str) -> dict[str, Any]:
        apidoc = _object_field(params.get("apidoc"), "apidoc")
        if "namespace" not in apidoc:
            raise RouteFailure("apidoc is missing the namespace field")
        response_type = str(params.get("responsetype") or "json").lower()
        if response_type not in RESPONSE_TYPES:
            raise RouteFailure(f"{CREATION_FAILURE}Error: Response type '{response_type[:32]}' is not one of"
                               f" {', '.join(RESPONSE_TYPES)}.")
        for _ in range(WRITE_ATTEMPTS):
            apis = await self._store.list_apis(namespace)
            if "swagger" in apidoc:
                doc = _swagger(apidoc)
                base_path = normalise_base_path(str(doc["basePath"]))
                existing = next((api for api in apis if api.base_path == base_path), None)
            else:
                endpoint, base_path, title = _endpoint(apidoc, namespace, response_type, caller.public_base)
                existing = next((api for api in apis if api.base_path == base_path), None)
                start = base_document(title, base_path) if existing is None else msgspec.json.decode(existing.doc)
                doc = add_endpoint(start, endpoint)
                await self._check_action(endpoint)
            problem = document_problem(doc, namespace)
            if problem is not None:
                raise RouteFailure(CREATION_FAILURE + problem)
            encoded = encoder.encode(doc)
            if len(encoded) > MAX_DOC_BYTES:
                raise RouteFailure(f"{CREATION_FAILURE}Error: The API document is {len(encoded)} bytes once encoded;"
                                   f" at most {MAX_DOC_BYTES} are allowed. Split it into several base paths.")
            others = [api for api in apis if api.base_path != base_path]
            operations = sum(self._compiled.get(api).operation_count for api in others)
            stored = Api(namespace, base_path, encoded, 0, self._now_ms())
            problem = namespace_problem(len(others) + 1, operations + self._compiled.get(stored).operation_count)
            if problem is not None:
                raise RouteFailure(CREATION_FAILURE + problem)
            try:
                saved = await self._store.put_api(stored, None if existing is None else existing.revision)
            except Conflict:
                continue  # another call changed this API meanwhile: merge into its version
            return api_object(saved, caller.public_base)
        raise RouteFailure(f"{CREATION_FAILURE}Error: The API {base_path} kept changing while it was being written;"
                           " try again.")

    async def get(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.namespace is None:
            raise RouteFailure("Invalid authentication.")
        apis = self._select(await self._store.list_apis(caller.namespace), params.get("basepath"))
        skip = _count(params.get("skip"))
        limit = _count(params.get("limit"))
        selected = apis[skip or 0:]
        if limit is not None:
            selected = selected[: max(limit, 0)]
        return {"apis": [{"id": "Not Used", "key": "Not Used", "value": api_object(api, caller.public_base)}
                         for api in selected]}

    async def delete(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if caller.namespace is None:
            raise RouteFailure("Invalid authentication.")
        async with self._writing(caller.namespace):
            return await self._delete(params, caller.namespace)

    async def _delete(self, params: dict[str, Any], namespace: str) -> dict[str, Any]:
        basepath = params.get("basepath")
        if basepath is None:
            raise RouteFailure("basepath is required.")
        relpath, operation = params.get("relpath"), params.get("operation")
        if operation is not None and relpath is None:
            raise RouteFailure("When specifying an operation, the path is required.")
        for _ in range(WRITE_ATTEMPTS):
            found = self._select(await self._store.list_apis(namespace), basepath)
            if not found:
                raise RouteFailure(f"{DELETION_FAILURE}API '{basepath}' does not exist.")
            api = found[0]
            if relpath is None:
                await self._store.delete_api(api.namespace, api.base_path)
                return {}
            doc = msgspec.json.decode(api.doc)
            relpath = str(relpath)
            operations = doc.get("paths", {}).get(relpath)
            if not isinstance(operations, dict):
                raise RouteFailure(f"{DELETION_FAILURE}path '{relpath}' does not exist in the API")
            verb = None if operation is None else str(operation).lower()
            if verb is not None and verb not in operations:
                raise RouteFailure(f"{DELETION_FAILURE}path '{relpath}' with operation '{verb}' does not exist in the API")
            doc = remove_endpoints(doc, relpath, verb)
            try:
                if not has_operations(doc):
                    await self._store.delete_api(api.namespace, api.base_path)
                else:
                    changed = Api(api.namespace, api.base_path, encoder.encode(doc), 0, self._now_ms())
                    await self._store.put_api(changed, api.revision)
            except Conflict:
                continue
            return {}
        raise RouteFailure(f"{DELETION_FAILURE}API '{basepath}' kept changing while it was being written; try again.")

    def _select(self, apis: list[Api], basepath: Any) -> list[Api]:
        """The APIs a `basepath` parameter names: by base path if it starts with `/`, else by title."""
        if basepath is None:
            return apis
        wanted = str(basepath)
        if wanted.startswith("/"):
            normalised = normalise_base_path(wanted)
            return [api for api in apis if api.base_path == normalised]
        return [api for api in apis if self._compiled.get(api).title == wanted]

    async def _check_action(self, endpoint: Endpoint) -> None:
        """An existing target must be a web action; a missing one is allowed, as in OpenWhisk (it
        answers the web action's 404 until it is created)."""
        package, _, name = endpoint.action.rpartition("/")
        try:
            resolved = await resolve_action(self._store, endpoint.namespace, package or None, name)
        except ApiError:
            return
        if not is_web_action(resolved.action):
            fqn = f"/{endpoint.namespace}/{endpoint.action}"
            raise RouteFailure(f"{CREATION_FAILURE}Action '{fqn}' is not a web action. Issue 'wsk action update"
                               f" \"{fqn}\" --web true' to convert the action to a web action.")


def _js_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None or isinstance(value, list | dict):
        return "object"
    return "string"


def _object_field(value: Any, name: str) -> dict[str, Any]:
    """`apidoc` as an object: given as one, or as a JSON string of one."""
    if value is None:
        raise RouteFailure(f"{name} is required.")
    if isinstance(value, str):
        try:
            value = decode_body(value.encode())
        except ApiError:
            raise RouteFailure(f"{name} field cannot be parsed. Ensure it is valid JSON.") from None
    if not isinstance(value, dict):
        raise RouteFailure(f"{name} field is of type {_js_type(value)} and should be a JSON object or a JSON string.")
    return value


def _swagger(apidoc: dict[str, Any]) -> dict[str, Any]:
    if "gatewayBasePath" in apidoc:
        raise RouteFailure("swagger and gatewayBasePath are mutually exclusive and cannot be specified together.")
    swagger = apidoc["swagger"]
    if isinstance(swagger, str):
        try:
            swagger = decode_body(swagger.encode())
        except ApiError:
            raise RouteFailure("swagger field cannot be parsed. Ensure it is valid JSON.") from None
    if not isinstance(swagger, dict):
        raise RouteFailure(f"swagger field is {_js_type(swagger)} and should be an object or a JSON string.")
    for key in ("basePath", "paths", "info"):
        if key not in swagger:
            raise RouteFailure(f"swagger is missing the {key} field.")
    return swagger


def _endpoint(apidoc: dict[str, Any], namespace: str, response_type: str, public_base: str) -> tuple[Endpoint, str, str]:
    """The endpoint form (§3.1) read: the endpoint, its normalised base path and the API's title."""
    for key in ("gatewayBasePath", "gatewayPath", "gatewayMethod"):
        if not apidoc.get(key):
            raise RouteFailure(f"apidoc is missing the {key} field")
    action = apidoc.get("action")
    if not isinstance(action, dict):
        raise RouteFailure("apidoc is missing the action field.")
    for key in ("backendMethod", "backendUrl", "namespace", "name", "authkey"):
        if key not in action:
            raise RouteFailure(f"action is missing the {key} field.")
    base_path = normalise_base_path(str(apidoc["gatewayBasePath"]))
    path, verb = str(apidoc["gatewayPath"]), str(apidoc["gatewayMethod"])
    problem = path_problem(path, "resource path") or verb_problem(verb)
    if problem is not None:
        raise RouteFailure(f"{CREATION_FAILURE}Error: {problem}")
    action_namespace = namespace if action["namespace"] == "_" else str(action["namespace"])
    if action_namespace != namespace:
        raise RouteFailure(f"{CREATION_FAILURE}Error: The action /{action_namespace}/{action['name']} is not in"
                           f" namespace {namespace}: a route may only run web actions of its own namespace.")
    backend = urlsplit(str(action["backendUrl"]))
    web_host = f"{backend.scheme}://{backend.netloc}" if backend.scheme in ("http", "https") and backend.netloc else public_base
    declared = apidoc.get("pathParameters")
    parameters = declared if isinstance(declared, list) else [
        {"name": name, "in": "path", "required": True, "type": "string", "description": f"Default description for '{name}'"}
        for name in path_parameters(path)
    ]
    secure_key = action.get("secureKey")
    endpoint = Endpoint(path, verb, action_namespace, str(action["name"]), response_type, web_host, parameters, secure_key)
    return endpoint, base_path, str(apidoc.get("apiName") or base_path)


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
