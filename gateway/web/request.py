"""Web actions as pure functions: the URL names the action, the request becomes its input.

openwhisk-api.md §4.1 and §4.3. No Starlette here: `gateway/api/web.py` feeds these functions, and
`gateway/web/response.py` turns the activation's result into the response. Errors are `ApiError`s
with OpenWhisk's messages.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from gateway.entities.names import NAME
from gateway.wire.errors import NOT_FOUND, RESERVED_PARAMETERS, ApiError
from gateway.wire.jsonbody import decode_body
from gateway.wire.models import Action

EXTENSIONS = ("http", "json", "html", "svg", "text")
"""The response extensions; a name without one of them is served as `.http`."""

RESERVED = frozenset({"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_body", "__ow_query"})
"""Input names the system sets: a query or body may not define them."""

CORS_METHODS = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
CORS_DEFAULT_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
REQUIRE_AUTH_HEADER = "x-require-whisk-auth"
JSON = "application/json"

# application/* types whose content is text; every other application/* type is binary.
_TEXT_APPLICATION = frozenset({
    "json", "javascript", "ecmascript", "x-javascript", "xml", "x-www-form-urlencoded", "graphql",
    "yaml", "x-yaml", "x-sh", "base64", "xhtml+xml", "ld+json", "problem+json",
})
_OCTET_STREAM = "application/octet-stream"  # what a body without Content-Type is taken to be
_FORM = "application/x-www-form-urlencoded"



# ------------------------------------------------------------------------------------------------
# The URL: /api/v1/web/{namespace}/{package|default}/{action}[.{ext}][/{path}]


@dataclass(frozen=True, slots=True)
class WebTarget:
    """What a web-action URL names. `package` is None for the `default` placeholder; `path` is the
    part after the action segment (`__ow_path`), `""` when there is none."""

    namespace: str
    package: str | None
    action: str
    extension: str
    path: str


def parse_target(namespace: str, package: str, rest: str) -> WebTarget:
    """The target of `/api/v1/web/{namespace}/{package}/{rest}`; 404 for `_` or an illegal name.

    The extension is a known suffix of the action segment (`hello.json`); without one the whole
    segment is the name and the extension is `http`.
    """
    segment, slash, path = rest.partition("/")
    name, extension = segment, "http"
    for known in EXTENSIONS:
        if segment.endswith(f".{known}") and len(segment) > len(known) + 1:
            name, extension = segment[: -len(known) - 1], known
            break
    if namespace == "_" or not all(NAME.match(part) for part in (namespace, package, name)):
        raise ApiError(404, NOT_FOUND)
    return WebTarget(namespace, None if package == "default" else package, name, extension, slash + path)


# ------------------------------------------------------------------------------------------------
# Annotations


def is_web_action(action: Action) -> bool:
    return action.annotation("web-export") is True


def is_raw(action: Action) -> bool:
    return action.annotation("raw-http") is True


def has_custom_options(action: Action) -> bool:
    return action.annotation("web-custom-options") is True


def whisk_auth_satisfied(action: Action, authenticated: bool, secret: str | None) -> bool:
    """Whether `require-whisk-auth` lets the request in: `true` needs valid credentials, a string or
    number must equal the `X-Require-Whisk-Auth` header (`secret`), anything else lets everyone in."""
    required = action.annotation("require-whisk-auth")
    if required is True:
        return authenticated
    if isinstance(required, str):
        return secret == required
    if isinstance(required, int | float) and not isinstance(required, bool):
        return secret is not None and secret == number_text(required)
    return True


def cors_headers(request_headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The CORS headers of a web response (`request_headers` keyed lower-case)."""
    allowed = request_headers.get("access-control-request-headers") or CORS_DEFAULT_HEADERS
    return [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", CORS_METHODS),
        ("Access-Control-Allow-Headers", allowed),
    ]


# ------------------------------------------------------------------------------------------------
# The request as the action's input


@dataclass(frozen=True, slots=True)
class WebRequest:
    """A web request as the action sees it. `headers` are (name, value) pairs as received."""

    method: str
    headers: list[tuple[str, str]]
    query_string: str
    body: bytes
    path: str
    user: str | None = None


def action_input(request: WebRequest, *, raw: bool) -> dict[str, Any]:
    """The action's input: query and body merged by content type (or passed raw), plus `__ow_*`.

    Raises `ApiError` 400 when the query or body defines a reserved `__ow_*` name, and 400
    `The request content was malformed` for a JSON body that does not parse.
    """
    headers = lowercase_headers(request.headers)
    media_type, charset = parse_media_type(headers.get("content-type", ""))
    if request.body and not media_type:
        media_type = _OCTET_STREAM
    system: dict[str, Any] = {
        "__ow_method": request.method.lower(),
        "__ow_headers": headers,
        "__ow_path": request.path,
    }
    if request.user is not None:
        system["__ow_user"] = request.user
    if raw:
        system["__ow_query"] = request.query_string
        system["__ow_body"] = _raw_body(request.body, media_type, charset)
        return system
    merged: dict[str, Any] = dict(parse_qsl(request.query_string, keep_blank_values=True))
    if request.body:
        fields, body = _body_input(request.body, media_type, charset)
        merged.update(fields)
        if body is not None:
            system["__ow_body"] = body
    if RESERVED.intersection(merged):
        raise ApiError(400, RESERVED_PARAMETERS)
    merged.update(system)
    return merged


def lowercase_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined with `, `."""
    result: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        result[name] = f"{result[name]}, {value}" if name in result else value
    return result


def _body_input(body: bytes, media_type: str, charset: str | None) -> tuple[dict[str, Any], Any]:
    """(fields merged into the input, `__ow_body` or None) for a non-raw request body."""
    if media_type == JSON:
        value: Any = decode_body(body)
        return (value, None) if isinstance(value, dict) else ({}, value)
    if media_type == _FORM:
        return dict(parse_qsl(_text(body, charset), keep_blank_values=True)), None
    if is_binary(media_type):
        return {}, base64.b64encode(body).decode()
    return {}, _text(body, charset)


def _raw_body(body: bytes, media_type: str, charset: str | None) -> str:
    if not body:
        return ""
    if media_type == JSON or is_binary(media_type):
        return base64.b64encode(body).decode()
    return _text(body, charset)


def _text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------------
# Content types, shared with gateway/web/response.py


def parse_media_type(content_type: str) -> tuple[str, str | None]:
    """(`type/subtype` lower-cased, the charset parameter or None); `""` when there is none."""
    media_type, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


def is_binary(media_type: str) -> bool:
    """Whether content of `media_type` is bytes rather than text (images, audio, archives, ...)."""
    main, _, sub = media_type.partition("/")
    if main in ("image", "audio", "video", "font"):
        return media_type != "image/svg+xml"
    if main == "application":
        return not (sub in _TEXT_APPLICATION or sub.endswith("+json") or sub.endswith("+xml"))
    return main == "multipart"


def is_json_type(media_type: str) -> bool:
    return media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json"))


def number_text(value: int | float) -> str:
    """A JSON number as OpenWhisk prints it in a header: integers without a fraction."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
