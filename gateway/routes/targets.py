"""Which web action an API operation runs, read from its document as the API gateway reads it (§8.3).

The target is the `invoke` step of the `operation-switch` case that lists the operation's id (found
by searching the case's `execute` list, so serverless's `[set-variable, invoke]` works), else a
top-level `invoke`, else `x-openwhisk.url`. Whatever host the target URL names, Whisklet runs the web
action in-process: a route never makes the gateway connect anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from gateway.routes.document import REQUEST_PATH, switch_cases
from gateway.web.request import WebTarget, parse_target
from gateway.wire.errors import ApiError

WEB_PREFIX = "/api/v1/web/"
MAX_SET_HEADERS = 16
_HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """The web action an operation runs.

    `web` names it (its `path` is what follows the action segment in the target URL); `verb` replaces
    the request's method unless None (`keep`); with `request_path` the request's path after the
    namespace segment becomes `__ow_path`; `headers` are added to the request (`set-variable`).
    """

    web: WebTarget
    verb: str | None
    request_path: bool
    headers: tuple[tuple[str, str], ...]


class TargetProblem(Exception):
    """An operation's target is not a web action URL Whisklet can run; the message says why."""


def operation_target(doc: dict[str, Any], operation: dict[str, Any]) -> RouteTarget | None:
    """The target of `operation` (a `paths[p][verb]` object), None when it is mapped to no action.

    Raises `TargetProblem` when the target is not a well-formed web-action URL.
    """
    op_id = operation.get("operationId")
    invoke: Any = None
    headers: list[tuple[str, str]] = []
    for case in switch_cases(doc):
        if isinstance(case, dict) and isinstance(case.get("operations"), list) and op_id in case["operations"]:
            invoke = _steps(case.get("execute"), headers)
            break
    if invoke is None:  # a top-level `invoke` applies to every operation
        config = doc.get("x-ibm-configuration")
        assembly = config.get("assembly") if isinstance(config, dict) else None
        if isinstance(assembly, dict):
            invoke = _steps(assembly.get("execute"), headers)
    if invoke is not None:
        url, verb = invoke.get("target-url"), invoke.get("verb", "keep")
    else:
        extension = operation.get("x-openwhisk")
        if not isinstance(extension, dict) or "url" not in extension:
            return None
        url, verb = extension["url"], "keep"
    if not isinstance(url, str) or not isinstance(verb, str):
        raise TargetProblem(f"the target of operation '{op_id}' is not a URL")
    request_path = url.endswith(REQUEST_PATH)
    if request_path:
        url = url[: -len(REQUEST_PATH)]
    return RouteTarget(web_target(url, op_id), None if verb.lower() == "keep" else verb.upper(), request_path,
                       tuple(headers))


def web_target(url: str, op_id: Any) -> WebTarget:
    """The web action `url` (`<any host>/api/v1/web/ns/pkg/action.ext[/path]`) names."""
    path = unquote(urlsplit(url).path)
    if not path.startswith(WEB_PREFIX):
        raise TargetProblem(f"the target of operation '{op_id}' is not a web action URL (…{WEB_PREFIX}ns/package/action)")
    namespace, _, rest = path[len(WEB_PREFIX):].partition("/")
    package, _, rest = rest.partition("/")
    try:
        return parse_target(namespace, package, rest)
    except ApiError:
        raise TargetProblem(f"the target of operation '{op_id}' does not name a web action") from None


def _steps(execute: Any, headers: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The `invoke` step of `execute`, collecting the headers its `set-variable` steps set."""
    if not isinstance(execute, list):
        return None
    invoke = None
    for step in execute:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("invoke"), dict) and invoke is None:
            invoke = step["invoke"]
        actions = step.get("set-variable", {}).get("actions") if isinstance(step.get("set-variable"), dict) else None
        for action in actions if isinstance(actions, list) else ():
            header = _set_header(action)
            if header is not None and len(headers) < MAX_SET_HEADERS:
                headers.append(header)
    return invoke


def _set_header(action: Any) -> tuple[str, str] | None:
    """A `{"set": "message.headers.Name", "value": v}` as a header; None for anything else."""
    if not isinstance(action, dict) or not isinstance(action.get("set"), str):
        return None
    prefix = "message.headers."
    name = action["set"]
    if not name.startswith(prefix):
        return None
    name = name[len(prefix):]
    value = action.get("value")
    text = value if isinstance(value, str) else str(value)
    if not name or len(name) > 64 or not set(name) <= _HEADER_NAME_CHARS or len(text) > 1024:
        return None
    if any(ch in text for ch in "\r\n\0"):
        return None
    return name, text
