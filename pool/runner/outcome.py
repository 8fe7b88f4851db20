"""How a runner's `/init` and `/run` replies become an activation outcome (openwhisk-api.md §8)."""

from __future__ import annotations

from typing import Any

import msgspec

from pool.runner import messages
from pool.activation import ActivationStatus

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def error_result(message: Any) -> bytes:
    """The `{"error": ...}` result every failed activation carries."""
    return _encode({"error": message})


def _decode_or_none(body: bytes) -> Any:
    try:
        return _decode(body)
    except msgspec.DecodeError:
        return None


def interpret_init(status: int, body: bytes) -> bytes | None:
    """None when `/init` succeeded, else the developer error's result."""
    if status == 200:
        return None
    decoded = _decode_or_none(body)
    if isinstance(decoded, dict) and "error" in decoded:
        return error_result(decoded["error"])
    return error_result(messages.init_failed(body.decode(errors="replace")))


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
    decoded = _decode_or_none(body)
    if status == 200 and isinstance(decoded, dict):
        if "error" in decoded:
            return ActivationStatus.APPLICATION_ERROR, error_result(decoded["error"])
        return ActivationStatus.SUCCESS, body
    if status == 200 and isinstance(decoded, list):
        return ActivationStatus.SUCCESS, body
    if isinstance(decoded, dict) and "error" in decoded:
        return ActivationStatus.DEVELOPER_ERROR, error_result(decoded["error"])
    return ActivationStatus.DEVELOPER_ERROR, error_result(messages.invalid_response(body.decode(errors="replace")))
