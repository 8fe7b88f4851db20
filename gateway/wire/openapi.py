"""The OpenAPI 3.1 document of the REST API, built from the wire Structs; kept in `config/openapi.json`.

`python -m gateway.wire.openapi` rewrites the file; `python -m gateway.wire.openapi --check` fails when it is out of
date. The gateway serves the file as it is at `/api/v1/api-docs`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from gateway.wire import logforwarding, models

DOCUMENT_FILE = Path(__file__).resolve().parents[2] / "config" / "openapi.json"
REF = "#/components/schemas/{name}"

# Response bodies: what the gateway encodes, straight from its Structs.
_RESPONSE_TYPES = (
    models.ControllerInfo, models.ApiInfo, models.EffectiveLimits, models.ErrorBody, models.ActivationId,
    models.Action, models.ActionSummary, models.ActivationRecord, models.ActivationSummary,
    models.ActivationResponse, models.ActivationLogs, models.Package, models.PackageSummary,
    models.PackageDetail, models.Trigger, models.TriggerSummary, models.Rule, models.RuleWithStatus,
    logforwarding.LogForwarding, logforwarding.LogForwardingErrors,
)
# Request bodies: what the gateway decodes. Semantic checks (kinds, ranges, sizes) answer 400 or 413.
_REQUEST_TYPES = (models.ActionPut, models.PackagePut, models.TriggerPut, models.RulePut, models.RuleStatusPut)

_NAME = r"^([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    response["headers"] = {**_REQUEST_ID, **(headers or {})}
    return response


_REQUEST_ID = {"X-Request-ID": {"description": "The transaction id, also the `code` of error bodies.",
                                "required": True, "schema": {"type": "string"}}}
_ACTIVATION_ID = {"x-openwhisk-activation-id": {"description": "The activation's id.", "required": True,
                                                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}}
_ERROR = {"$ref": "#/components/responses/Error"}
_ERRORS = {
    "default": _ERROR,
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}


_NS = _param("ns", "path", {"type": "string", "pattern": _NAME, "examples": ["_"]},
             "The namespace; `_` is the caller's own.")
_ENTITY = _param("name", "path", {"type": "string", "pattern": _NAME}, "The entity's name.")
_PKG = _param("pkg", "path", {"type": "string", "pattern": _NAME}, "The package.")
_ID = _param("id", "path", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "The activation id.")
_BOOL = {"type": "string", "enum": ["true", "false", "yes", "no", "on", "off", "1", "0"]}
_LIST = [
    _param("limit", "query", {"type": "integer", "minimum": 0, "maximum": 200, "default": 30},
           "How many to list; 0 means 200."),
    _param("skip", "query", {"type": "integer", "minimum": 0, "default": 0}, "How many to skip."),
    _param("count", "query", _BOOL, "`true`: answer `{\"<collection>\": n}` instead of the list."),
]
_OVERWRITE = _param("overwrite", "query", _BOOL, "`true`: create or update; otherwise create only (409).")


def _op(summary: str, responses: dict[str, Any], *, parameters: list[dict[str, Any]] | None = None,
        body: str | None = None, tag: str, public: bool = False) -> dict[str, Any]:
    errors = {"default": _ERROR} if public else _ERRORS
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {**responses, **errors}}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": _ref(body)}},
            "description": "JSON; an empty body counts as `{}`. Another content type is 415, past the size limit 413.",
        }
    if public:
        operation["security"] = []
    return operation


def _list_of(name: str) -> dict[str, Any]:
    return {"anyOf": [{"type": "array", "items": _ref(name)},
                      {"type": "object", "additionalProperties": {"type": "integer"}}]}


def _entity_paths(
    collection: str, full: str, summary: str, put: str, post: dict[str, Any] | None
) -> dict[str, Any]:
    noun, tag = collection.removesuffix("s"), collection
    found = {"404": {"$ref": "#/components/responses/NotFound"},
             "409": _json(_ref("ErrorBody"), "The name belongs to an entity of another collection.")}
    item = {
        "parameters": [_NS, _ENTITY],
        "get": _op(f"Get a {noun}.", {"200": _json(_ref(full), f"The {noun}."), **found}, tag=tag),
        "put": _op(f"Create or update a {noun}.", {
            "200": _json(_ref(full), f"The stored {noun}."),
            "409": _json(_ref("ErrorBody"), "It exists and `overwrite` is not `true`, or it changed meanwhile."),
            "413": _json(_ref("ErrorBody"), "The body, its parameters, annotations or code are too large."),
        }, parameters=[_OVERWRITE], body=put, tag=tag),
        "delete": _op(f"Delete a {noun}.", {"200": _json(_ref(full), f"The deleted {noun}."), **found}, tag=tag),
    }
    if post is not None:
        item["post"] = post
    return {
        f"/api/v1/namespaces/{{ns}}/{collection}": {
            "parameters": [_NS],
            "get": _op(f"List the namespace's {collection}, newest first.",
                       {"200": _json(_list_of(summary), f"Summaries of {collection}, or their count.")},
                       parameters=_LIST, tag=tag),
        },
        f"/api/v1/namespaces/{{ns}}/{collection}/{{name}}": item,
    }


def _invoke(path_params: list[dict[str, Any]]) -> dict[str, Any]:
    responses = {
        "200": _json({}, "Blocking, succeeded: the full record, or with `result=true` (or an array result) the "
                         "bare result.", _ACTIVATION_ID),
        "202": _json(_ref("ActivationId"), "Non-blocking, or the blocking wait ran out: the activation's id.",
                     _ACTIVATION_ID),
        "404": {"$ref": "#/components/responses/NotFound"},
        "413": _json(_ref("ErrorBody"), "The body is larger than the payload limit."),
        "429": _json(_ref("ErrorBody"), "A namespace throttle: invocations per minute or in flight."),
        "500": _json({}, "Blocking, a whisk internal error: the record or its result.", _ACTIVATION_ID),
        "502": _json({}, "Blocking, an application or developer error: the record or its result.", _ACTIVATION_ID),
        "503": _json(_ref("ErrorBody"), "No container can be had (the engine is down) or the store cannot "
                                        "record the activation."),
    }
    query = [
        _param("blocking", "query", _BOOL, "Wait for the result (default false)."),
        _param("result", "query", _BOOL, "With `blocking`: only the result."),
        _param("timeout", "query", {"type": "integer", "minimum": 1, "maximum": 60000},
               "Longest blocking wait in ms (default 60000)."),
    ]
    return {
        "parameters": path_params,
        "post": {**_op("Invoke the action with the body's parameters.", responses, parameters=query,
                       tag="actions"), "requestBody": _payload("The parameters: a JSON object.")},
    }


def _payload(description: str) -> dict[str, Any]:
    return {"required": False, "description": description + " An empty body counts as `{}`.",
            "content": {"application/json": {"schema": {"type": "object"}}}}


def document() -> dict[str, Any]:
    """The whole document, deterministic (same input, same bytes)."""
    _, schemas = msgspec.json.schema_components((*_RESPONSE_TYPES, *_REQUEST_TYPES), ref_template=REF)
    paths: dict[str, Any] = {
        "/": {"get": _op("Controller information: limits and runtimes.",
                         {"200": _json(_ref("ControllerInfo"), "The controller's description.")},
                         tag="info", public=True)},
        "/ping": {"get": _op("Liveness.", {"200": {"description": "`pong`", "headers": _REQUEST_ID,
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}},
                             tag="info", public=True)},
        "/api/v1": {"get": _op("The API's description.", {"200": _json(_ref("ApiInfo"), "API information.")},
                               tag="info", public=True)},
        "/api/v1/api-docs": {"get": _op("This document.", {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
                                        tag="info", public=True)},
        "/metrics": {"get": _op("Prometheus metrics.", {"200": {
            "description": "Prometheus text format.", "headers": _REQUEST_ID,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }}, tag="info", public=True)},
        "/api/v1/namespaces": {"get": _op("The caller's namespace, in a list.",
                                          {"200": _json({"type": "array", "items": {"type": "string"}},
                                                        "`[\"<namespace>\"]`")}, tag="namespaces")},
        "/api/v1/namespaces/{ns}/limits": {
            "parameters": [_NS],
            "get": _op("The namespace's effective limits.", {"200": _json(_ref("EffectiveLimits"), "Limits.")},
                       tag="namespaces"),
        },
    }
    invoke = _invoke([_NS, _ENTITY])
    actions = _entity_paths("actions", "Action", "ActionSummary", "ActionPut", invoke["post"])
    actions["/api/v1/namespaces/{ns}/actions/{name}"]["get"]["parameters"] = [
        _param("code", "query", _BOOL, "`false` leaves out `exec.code`.")
    ]
    paths.update(actions)
    paths["/api/v1/namespaces/{ns}/actions/{pkg}/"] = {
        "parameters": [_NS, _PKG],
        "get": _op("List the actions of one package.", {"200": _json(_list_of("ActionSummary"), "Summaries.")},
                   parameters=_LIST, tag="actions"),
    }
    packaged = {key: value for key, value in actions["/api/v1/namespaces/{ns}/actions/{name}"].items()}
    packaged["parameters"] = [_NS, _PKG, _ENTITY]
    paths["/api/v1/namespaces/{ns}/actions/{pkg}/{name}"] = packaged
    fire = _op("Fire the trigger with the body as payload.", {
        "202": _json(_ref("ActivationId"), "The trigger activation's id.", _ACTIVATION_ID),
        "204": {"description": "No active rule: nothing ran, no record.", "headers": _REQUEST_ID},
        "404": {"$ref": "#/components/responses/NotFound"},
        "413": _json(_ref("ErrorBody"), "The body is larger than the payload limit."),
        "429": _json(_ref("ErrorBody"), "Too many fires this minute."),
    }, tag="triggers")
    fire["requestBody"] = _payload("The payload: a JSON object.")
    paths.update(_entity_paths("triggers", "Trigger", "TriggerSummary", "TriggerPut", fire))
    rule_state = _op("Activate or deactivate the rule.", {
        "200": {"description": "`OK`, whether or not the state changed.", "headers": _REQUEST_ID,
                "content": {"text/plain": {"schema": {"type": "string"}}}},
        "404": {"$ref": "#/components/responses/NotFound"},
    }, body="RuleStatusPut", tag="rules")
    rules = _entity_paths("rules", "RuleWithStatus", "Rule", "RulePut", rule_state)
    paths.update(rules)
    packages = _entity_paths("packages", "Package", "PackageSummary", "PackagePut", None)
    packages["/api/v1/namespaces/{ns}/packages/{name}"]["get"] = _op(
        "Get a package with its actions and feeds (a binding: the bound package's).",
        {"200": _json(_ref("PackageDetail"), "The package."), "404": {"$ref": "#/components/responses/NotFound"}},
        tag="packages")
    packages["/api/v1/namespaces/{ns}/packages/{name}"]["delete"]["parameters"] = [
        _param("force", "query", _BOOL, "`true` deletes the package's actions first.")
    ]
    paths.update(packages)
    activations_list = [
        *_LIST,
        _param("docs", "query", _BOOL, "`true`: full records instead of summaries."),
        _param("name", "query", {"type": "string"}, "Only activations of `action` or `package/action`."),
        _param("since", "query", {"type": "integer"}, "Only those that started at or after (epoch ms)."),
        _param("upto", "query", {"type": "integer"}, "Only those that started at or before (epoch ms)."),
    ]
    paths["/api/v1/namespaces/{ns}/activations"] = {
        "parameters": [_NS],
        "get": _op("List activation records, newest first.", {"200": _json(
            {"anyOf": [{"type": "array", "items": {"anyOf": [_ref("ActivationSummary"), _ref("ActivationRecord")]}},
                       {"type": "object", "additionalProperties": {"type": "integer"}}]},
            "Summaries, records (`docs=true`) or the count.")}, parameters=activations_list, tag="activations"),
    }
    for suffix, schema, what in (("", "ActivationRecord", "The full record."),
                                 ("/result", "ActivationResponse", "The record's `response`."),
                                 ("/logs", "ActivationLogs", "The record's log lines.")):
        paths[f"/api/v1/namespaces/{{ns}}/activations/{{id}}{suffix}"] = {
            "parameters": [_NS, _ID],
            "get": _op(what, {"200": _json(_ref(schema), what), "404": {"$ref": "#/components/responses/NotFound"}},
                       tag="activations"),
        }
    web_params = [
        _param("ns", "path", {"type": "string", "pattern": _NAME}, "The owner's namespace (`_` is not accepted)."),
        _param("pkg", "path", {"type": "string", "pattern": _NAME}, "The package, or `default`."),
        _param("action", "path", {"type": "string"},
               "The action, optionally with `.json`, `.http`, `.html`, `.svg` or `.text`."),
    ]
    anything = {"description": "Whatever the action renders.", "content": {"*/*": {"schema": {}}}}
    web_op = {"summary": "Run a web action: the request becomes its input, its result the response.",
              "tags": ["web"], "security": [{}, {"basic": []}], "responses": {"default": anything}}
    paths["/api/v1/web/{ns}/{pkg}/{action}"] = {
        "parameters": web_params,
        **{method: dict(web_op) for method in ("get", "post", "put", "patch", "delete", "head", "options")},
    }
    paths.update(_log_forwarding_paths())
    apimgmt_op = {"summary": "Route management (`wsk api`, `aio rt api`): createApi, getApi or deleteApi, as OpenWhisk's "
                             "`whisk.system/apimgmt` web actions. Failures are 502 `{\"error\": message}`.",
                  "tags": ["routes"], "security": [{}, {"basic": []}],
                  "responses": {"200": {"description": "The API object(s), or `{}` after a delete.",
                                        "content": {"application/json": {"schema": {"type": "object"}}}},
                                "502": {"description": "`{\"error\": message}`, OpenWhisk's message.",
                                        "content": {"application/json": {"schema": {"type": "object"}}}},
                                "400": {"$ref": "#/components/responses/BadRequest"},
                                "404": {"$ref": "#/components/responses/NotFound"},
                                "413": _json(_ref("ErrorBody"), "The body is larger than the payload limit.")}}
    paths["/api/v1/web/whisk.system/apimgmt/{action}"] = {
        "parameters": [_param("action", "path", {"type": "string", "pattern": "^(createApi|getApi|deleteApi)(\\.\\w+)?$"},
                              "`createApi`, `getApi` or `deleteApi`, any extension taken as `.http`.")],
        **{method: dict(apimgmt_op) for method in ("get", "post", "put", "patch", "delete", "head")},
        "options": {**apimgmt_op, "summary": "CORS preflight: answered at once, nothing run.",
                    "responses": {"200": {"description": "Empty, with the CORS headers."},
                                  "404": {"$ref": "#/components/responses/NotFound"}}},
    }
    managed_op = {"summary": "A managed API URL (a route's `gwApiUrl` + its path): runs the route's web action.",
                  "tags": ["routes"], "security": [{}],
                  "responses": {"default": anything,
                                "404": {"description": "`{\"status\":404,\"message\":\"Error: Not found.\"}`"},
                                "405": {"description": "The path has no route for this verb."}}}
    tenant = _param("tenant", "path", {"type": "string"}, "The API's namespace, or the uuid of its key.")
    for prefix in ("/api", "/apis"):
        paths[f"{prefix}/{{tenant}}"] = {
            "parameters": [tenant],
            **{method: dict(managed_op) for method in ("get", "post", "put", "patch", "delete", "options")},
        }
        paths[f"{prefix}/{{tenant}}/{{action}}"] = {
            "parameters": [tenant, _param("action", "path", {"type": "string"},
                                          "The API's base path, then the route's relative path (`club/books/42`).")],
            **{method: dict(managed_op) for method in ("get", "post", "put", "patch", "delete", "options")},
        }
    _name_operations(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Whisklet: the OpenWhisk REST API",
            "version": "1.0.0",
            "description": "Apache OpenWhisk's REST API as Whisklet serves it. Every error is "
                           "`{\"error\": message, \"code\": request id}`. Namespaces in paths may be `_`, the "
                           "caller's own; another namespace is 403 before any existence check.",
        },
        "servers": [{"url": "/"}],
        "security": [{"basic": []}],
        "tags": [{"name": name} for name in ("info", "namespaces", "actions", "triggers", "rules", "packages",
                                             "activations", "web", "routes", "logForwarding")],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic",
                                          "description": "`uuid:key` of a namespace (wsk's AUTH)."}},
            "responses": {
                "Error": _json(_ref("ErrorBody"), "An error: `error` says what went wrong, `code` is the request id."),
                "BadRequest": _json(_ref("ErrorBody"), "The request is malformed: a name, an id, a query "
                                                       "parameter or the body."),
                "Unauthorized": {**_json(_ref("ErrorBody"), "No credentials, or invalid ones."),
                                 "headers": {**_REQUEST_ID, "WWW-Authenticate": {"required": True,
                                                                                  "schema": {"type": "string"}}}},
                "Forbidden": _json(_ref("ErrorBody"), "The namespace is not the caller's."),
                "NotFound": _json(_ref("ErrorBody"), "`The requested resource does not exist.`"),
            },
        },
    }


def _log_forwarding_paths() -> dict[str, Any]:
    """Adobe I/O Runtime's log-forwarding API, outside `/api/v1` (routes-and-log-forwarding.md §10-11)."""
    ns = _param("ns", "path", {"type": "string", "examples": ["_"]},
                "The caller's namespace; `_` and `undefined` (aio without a namespace) mean the caller's own.")
    config = "`{\"<destination>\": {settings..., \"updated_at\"}}`: exactly one destination; secrets are never returned."
    return {
        "/runtime/namespaces/{ns}/logForwarding": {
            "parameters": [ns],
            "get": _op("The namespace's log-forwarding destination (`adobe_io_runtime` until set).",
                       {"200": _json(_ref("LogForwarding"), config)}, tag="logForwarding"),
            "put": {**_op("Set the namespace's log-forwarding destination (exactly one key).", {
                "200": _json(_ref("LogForwarding"), "The stored configuration, " + config),
                "413": _json(_ref("ErrorBody"), "The body is larger than 64 KiB."),
            }, tag="logForwarding"), "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("LogForwarding")}},
                "description": "One destination key with its settings (strings; numbers accepted), secret included."}},
        },
        "/runtime/namespaces/{ns}/logForwarding/errors": {
            "parameters": [ns],
            "get": _op("The newest (at most 10, 30 days) forwarding failures of the current configuration.",
                       {"200": _json(_ref("LogForwardingErrors"), "The destination and its errors.")},
                       tag="logForwarding"),
        },
    }


def _name_operations(paths: dict[str, Any]) -> None:
    for path, item in paths.items():
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            if method in item:
                item[method] = {**item[method], "operationId": f"{method} {path}"}


def encoded() -> bytes:
    return (json.dumps(document(), indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if config/openapi.json is out of date")
    args = parser.parse_args(argv)
    current = encoded()
    if args.check:
        if DOCUMENT_FILE.read_bytes() != current:
            print(f"{DOCUMENT_FILE} is out of date: run python -m gateway.wire.openapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT_FILE.write_bytes(current)
    print(DOCUMENT_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
