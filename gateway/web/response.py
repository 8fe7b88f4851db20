"""Web actions' responses as pure functions: an activation's result rendered per extension.

openwhisk-api.md §4.2: `.http` (status, headers with repeated values, base64 bodies for binary types),
`.json`, `.html`, `.svg` and `.text`, with OpenWhisk's messages as `ApiError`s.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.web.request import JSON, is_binary, is_json_type, number_text, parse_media_type
from gateway.wire.errors import (
    HTTP_CONTENT_TYPE_MISMATCH,
    HTTP_UNKNOWN_CONTENT_TYPE,
    PROPERTY_NOT_FOUND,
    WEB_PROCESSING_ERROR,
    ApiError,
    invalid_media,
)
from gateway.wire.jsonbody import any_decoder
from gateway.wire.models import encoder
from pool import ActivationStatus, json_too_deep

_MEDIA_TYPE = re.compile(r"\A[\w!#$&^.+-]+/[\w!#$&^.+-]+\Z")
_HEADER_NAME = re.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_VALUE = re.compile(r"\A[\t\x20-\x7e\x80-\xff]*\Z")  # no control characters, Latin-1 only
_INTEGER = re.compile(r"\A[+-]?[0-9]{1,9}\Z")
_BASE64 = re.compile(r"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_DEFAULT_HTTP_TYPE = "text/html"

HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "content-length"})
"""Headers that frame the message or the connection: the gateway sets them; an action's are dropped
(any case, `Proxy-*` too), or a proxy in front could read two different messages (desync)."""

@dataclass(frozen=True, slots=True)
class WebResponse:
    """What to send: `headers` may repeat a name (several `Set-Cookie`); `content_type` None means
    no body and no Content-Type."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    content_type: str | None = None


def handed_result(status: ActivationStatus, result: Any) -> Any:
    """What the extension renders: the result on success, the `error` value of an application error.

    A developer or internal error is 400 `There was an error processing your request.`
    """
    if status is ActivationStatus.SUCCESS:
        return result
    if status is ActivationStatus.APPLICATION_ERROR and isinstance(result, dict):
        return result.get("error")
    raise ApiError(400, WEB_PROCESSING_ERROR)


def render_activation(status: ActivationStatus, result: Any, extension: str, path: str = "") -> WebResponse:
    """The response for an activation that ended with `status` and `result`.

    A success's result is rendered with its projection; an application error's `error` value is
    rendered as it is (OpenWhisk ignores the projection then); other errors are 400.
    """
    return render(handed_result(status, result), extension, path, project=status is ActivationStatus.SUCCESS)


def render(result: Any, extension: str, path: str = "", *, project: bool = True) -> WebResponse:
    """The response for `result` under `extension` (`http`, `json`, `html`, `svg` or `text`).

    With `project`, for every extension but `http`: a non-empty `path` projects the result
    (`a.json/body/x` answers `result["body"]["x"]`), as OpenWhisk does; without one, `.text`,
    `.html` and `.svg` take the result's `body`, else its `text`, `html` or `svg` field.
    """
    if extension == "http":
        return _http(result)
    projection = [part for part in path.split("/") if part] if project else []
    if projection:
        result = _project(result, projection)
    by_default = project and not projection and isinstance(result, dict)
    if extension == "json":
        if not isinstance(result, dict | list):
            raise invalid_media("application/json")
        return WebResponse(200, [], encoder.encode(result), JSON)
    if extension == "text":
        if by_default:
            result = _default_field(result, "text")
        return WebResponse(200, [], _as_text(result).encode(), "text/plain; charset=UTF-8")
    media_type = {"html": "text/html; charset=UTF-8", "svg": "image/svg+xml"}[extension]
    if by_default:
        result = _default_field(result, extension)
    if not isinstance(result, str):
        raise invalid_media(media_type.partition(";")[0])
    return WebResponse(200, [], result.encode(), media_type)


def _project(result: Any, fields: list[str]) -> Any:
    for field in fields:
        if not isinstance(result, dict) or field not in result:
            raise ApiError(404, PROPERTY_NOT_FOUND)
        result = result[field]
    return result


def _default_field(result: dict[str, Any], name: str) -> Any:
    """`body` if the result has it, else the field named after the extension."""
    for field in ("body", name):
        if field in result:
            return result[field]
    raise ApiError(404, PROPERTY_NOT_FOUND)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return msgspec.json.format(encoder.encode(value), indent=2).decode()
    return encoder.encode(value).decode()


def _http(result: Any) -> WebResponse:
    """`{statusCode?, headers?, body?}` as an HTTP response (openwhisk-api.md §4.2)."""
    if not isinstance(result, dict):
        raise invalid_media("message/http")
    headers = _headers(result.get("headers"))
    body = result.get("body")
    status = _status(result.get("statusCode"), "body" in result and body is not None)
    headers, declared = _without_content_type(headers)
    if status in (204, 304) or body is None or body == "":
        return WebResponse(status, headers)
    if isinstance(body, str):
        content, content_type = _string_body(body, declared)
        return WebResponse(status, headers, content, content_type)
    media_type, _ = parse_media_type(declared or JSON)
    if not is_json_type(media_type):
        raise ApiError(400, HTTP_CONTENT_TYPE_MISMATCH)
    return WebResponse(status, headers, encoder.encode(body), declared or JSON)


def _headers(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise invalid_media("message/http")
    headers: list[tuple[str, str]] = []
    for name, item in value.items():
        if not _HEADER_NAME.match(name):
            raise invalid_media("message/http")
        values = _header_values(item)  # checked even when dropped: an invalid result is invalid
        if not is_hop_by_hop(name):
            headers.extend((name, text) for text in values)
    return headers


def is_hop_by_hop(name: str) -> bool:
    """Whether an action may not set header `name`: framing, connection and proxy headers."""
    lowered = name.lower()
    return lowered in HOP_BY_HOP or lowered.startswith("proxy-")


def _header_values(value: Any) -> list[str]:
    if isinstance(value, str):
        if not _HEADER_VALUE.match(value):
            raise invalid_media("message/http")
        return [value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        return [number_text(value)]
    if isinstance(value, list):
        return [text for item in value for text in _header_values(item)]
    raise invalid_media("message/http")


def _status(value: Any, has_body: bool) -> int:
    if value is None:
        return 200 if has_body else 204
    if isinstance(value, bool):
        raise invalid_media("message/http")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    if not isinstance(value, int) or not 200 <= value <= 599:
        raise invalid_media("message/http")  # 1xx would announce another response (101: a protocol switch)
    return value


def _without_content_type(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    """The headers without Content-Type, and the (first) Content-Type the action declared."""
    declared = next((value for name, value in headers if name.lower() == "content-type"), None)
    return [(name, value) for name, value in headers if name.lower() != "content-type"], declared


def _string_body(body: str, declared: str | None) -> tuple[bytes, str]:
    """A string body's bytes and Content-Type: base64-decoded for binary types, encoded for text."""
    content_type = declared or _DEFAULT_HTTP_TYPE
    media_type, charset = parse_media_type(content_type)
    if not _MEDIA_TYPE.match(media_type):
        raise ApiError(400, HTTP_UNKNOWN_CONTENT_TYPE)
    if is_binary(media_type):
        try:
            return base64.b64decode(body, validate=True), content_type
        except (binascii.Error, ValueError):
            raise ApiError(400, HTTP_UNKNOWN_CONTENT_TYPE) from None
    if is_json_type(media_type):
        decoded = _legacy_base64_json(body)
        if decoded is not None:
            return decoded, content_type
    try:
        encoding = codecs.lookup(charset or "utf-8").name
        content = body.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        raise ApiError(400, HTTP_UNKNOWN_CONTENT_TYPE) from None
    if charset is None and media_type.startswith("text/"):
        content_type = f"{content_type}; charset=UTF-8"
    return content, content_type


def _legacy_base64_json(body: str) -> bytes | None:
    """A JSON body some actions still send base64-encoded: the decoded bytes if that is what it is."""
    if not _BASE64.match(body):
        return None
    decoded = base64.b64decode(body)
    if json_too_deep(decoded):
        return None
    try:
        any_decoder.decode(decoded)
    except (msgspec.DecodeError, RecursionError):
        return None
    return decoded
