"""Request bodies decoded under the nesting bound: a value, or OpenWhisk's 400, never a 500."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gateway.wire.errors import malformed, nested_too_deep
from pool import MAX_JSON_DEPTH, json_too_deep

T = TypeVar("T")

any_decoder = msgspec.json.Decoder()


def decode_body(body: bytes, decoder: msgspec.json.Decoder[T] | msgspec.json.Decoder[Any] = any_decoder) -> T:
    """`body` decoded with `decoder`; 400 `The request content was malformed` when it is not JSON of
    that shape, or nests deeper than `MAX_JSON_DEPTH` (checked before decoding, in linear time).

    `RecursionError` is caught as well: it cannot happen past the check, but a 500 must not either.
    """
    if json_too_deep(body):
        raise nested_too_deep(MAX_JSON_DEPTH)
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as error:
        raise malformed(str(error)) from None
    except RecursionError:
        raise nested_too_deep(MAX_JSON_DEPTH) from None
