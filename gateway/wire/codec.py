"""Request bodies in and JSON responses out, for every REST handler."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from gateway.wire.errors import UNSUPPORTED_MEDIA_TYPE, ApiError, malformed, request_too_large
from gateway.wire.jsonbody import any_decoder, decode_body
from gateway.wire.models import encoder

T = TypeVar("T")

JSON = "application/json"


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`value` as compact JSON; a `msgspec.Raw` is sent as is."""
    return Response(encoder.encode(value), status_code=status, headers=headers, media_type=JSON)


def request_id(request: Request) -> str:
    """The request's id, as the request envelope (`gateway/edge/envelope.py`) put it in the scope."""
    request_id: str = request.scope["state"]["request_id"]
    return request_id


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or `b""` when it is empty or blank.

    413 when it is longer than `max_bytes` (`read_raw_body`); 415 when it is not
    empty and not declared `application/json`.
    """
    body = await read_raw_body(request, max_bytes)
    if not body.strip():
        return b""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON:
        raise ApiError(415, UNSUPPORTED_MEDIA_TYPE)
    return body


async def read_raw_body(request: Request, max_bytes: int) -> bytes:
    """The request body as sent, whatever its type; 413 when it is longer than `max_bytes`.

    A declared length over the bound is refused before reading; a chunked body as soon as it passes
    the bound (the size in the message is then what had arrived), never read to its end.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise request_too_large(int(declared), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise request_too_large(size, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    """`body` (empty means `{}`) decoded; 400 `The request content was malformed` when it does not fit,
    or nests deeper than `pool.MAX_JSON_DEPTH` (`jsonbody.decode_body`)."""
    return decode_body(body or b"{}", decoder)


def decode_object(body: bytes) -> dict[str, Any]:
    """A body that must be a JSON object (invoke parameters); empty means `{}`."""
    value = decode(body, any_decoder)
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "a JSON scalar"
        raise malformed(f"expected a JSON object of parameters, got {kind}")
    return value
