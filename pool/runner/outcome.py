"""How a runner's `/init` and `/run` replies become an activation outcome (openwhisk-api.md §8).

Every reply is the tenant's: it arrives cut at the result limit (plus `INIT_SLACK_BYTES` for `/init`),
its nesting is checked before it is decoded, and every error text stored from it is capped at the
result limit with its true size said.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from pool.activation import ActivationStatus
from pool.jsonbound import MAX_JSON_DEPTH, json_too_deep
from pool.runner import messages

INIT_SLACK_BYTES = 4096
"""What an `/init` reply may carry beyond the result limit: the JSON around a limit-sized error text."""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def error_result(message: Any) -> bytes:
    """The `{"error": ...}` result every failed activation carries."""
    return _encode({"error": message})


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def decode_reply(body: bytes) -> tuple[Any, bytes]:
    """A reply body no deeper than `MAX_JSON_DEPTH`, decoded (None when it is not JSON), and the bytes
    that stand for it.

    A lone UTF-16 surrogate escape (`"\\ud800"`, which Node's `JSON.stringify` writes for a lone
    surrogate in a string) is valid JSON to OpenWhisk's parser, so it is accepted here too; OpenWhisk's
    JVM then writes such a character as `?` when it encodes the result in UTF-8, and so does Whisklet:
    the bytes returned are then the re-encoded value, which stays valid UTF-8 everywhere downstream.
    """
    try:
        return _decode(body), body
    except msgspec.DecodeError:
        pass
    try:  # the slow path, only for what msgspec refused: is it a lone surrogate?
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None, body
    value = _without_lone_surrogates(value)
    return value, _encode(value)


def _text(body: bytes, size: int, limit_bytes: int) -> str:
    return messages.capped(body[:limit_bytes].decode(errors="replace"), size, limit_bytes)


_ERROR_WRAPPER_BYTES = len(error_result(None)) - len(b"null")


def _capped_error(error: Any, limit_bytes: int) -> bytes:
    """`{"error": error}`, its error text capped at `limit_bytes` with the true size said."""
    result = error_result(error)
    if len(result) - _ERROR_WRAPPER_BYTES <= limit_bytes:
        return result
    text = error if isinstance(error, str) else result.decode()
    return error_result(_text(text.encode(), len(text.encode()), limit_bytes))


def interpret_init(status: int, body: bytes, result_limit_bytes: int, *, size: int | None = None) -> bytes | None:
    """None when `/init` succeeded, else the developer error's result.

    `size` is the reply body's full length when only its first bytes were kept.
    """
    if status == 200:
        return None
    size = len(body) if size is None else size
    if size > len(body) or json_too_deep(body):
        return error_result(messages.init_failed(_text(body, size, result_limit_bytes)))
    decoded, _ = decode_reply(body)
    if isinstance(decoded, dict) and "error" in decoded:
        return _capped_error(decoded["error"], result_limit_bytes)
    return error_result(messages.init_failed(_text(body, size, result_limit_bytes)))


def interpret_run(
    status: int, body: bytes, result_limit_bytes: int, *, size: int | None = None
) -> tuple[ActivationStatus, bytes]:
    """The status and result of a `/run` reply that arrived within the time limit (rules 3-7).

    `size` is the reply body's full length when only its first `result_limit_bytes` were kept.
    """
    size = len(body) if size is None else size
    if size > result_limit_bytes:
        truncated = body[:result_limit_bytes].decode(errors="ignore")
        return ActivationStatus.APPLICATION_ERROR, error_result(
            messages.result_too_large(size, result_limit_bytes, truncated)
        )
    if json_too_deep(body):
        return ActivationStatus.DEVELOPER_ERROR, error_result(messages.result_too_deep(MAX_JSON_DEPTH))
    decoded, body = decode_reply(body)
    if status == 200 and isinstance(decoded, dict):
        if "error" in decoded:
            return ActivationStatus.APPLICATION_ERROR, _capped_error(decoded["error"], result_limit_bytes)
        return ActivationStatus.SUCCESS, body
    if status == 200 and isinstance(decoded, list):
        return ActivationStatus.SUCCESS, body
    if isinstance(decoded, dict) and "error" in decoded:
        return ActivationStatus.DEVELOPER_ERROR, _capped_error(decoded["error"], result_limit_bytes)
    return ActivationStatus.DEVELOPER_ERROR, error_result(messages.invalid_response(body.decode(errors="replace")))
