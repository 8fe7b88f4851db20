"""The activation error texts users see, exactly as OpenWhisk words them."""

from __future__ import annotations


def timed_out(timeout_ms: int, during_init: bool = False) -> str:
    suffix = " during initialization." if during_init else "."
    return f"The action exceeded its time limits of {timeout_ms} milliseconds{suffix}"


OUT_OF_MEMORY = "The action exhausted its memory and was aborted."
INIT_EXITED = "The action did not initialize and exited unexpectedly."
RUN_EXITED = "The action did not produce a valid response and exited unexpectedly."
LOGS_MAY_BE_MISSING = "The action did not initialize or run as expected. Log data might be missing."
LOGS_NOT_COLLECTED = "There was an issue while collecting your logs. Data might be missing."


def init_failed(body: str) -> str:
    return f"The action failed during initialization: {body}"


def invalid_response(body: str) -> str:
    return f"The action did not produce a valid JSON or JSON Array response: {body}"


def result_too_large(size: int, limit: int, truncated: str) -> str:
    return (
        f"The action produced a response that exceeded the allowed length: {size} > {limit} bytes. "
        f"The truncated response was: {truncated}"
    )


def container_unavailable(reason: str) -> str:
    return f"No container could be started for the activation: {reason}"


def result_too_deep(max_depth: int) -> str:
    return (
        f"The action produced a response nested deeper than {max_depth} levels of arrays and objects; "
        "return a flatter result."
    )


def capped(text: str, size: int, limit: int) -> str:
    """`text` (the first `limit` bytes of something `size` bytes long) with its true size said."""
    if size <= limit:
        return text
    return f"{text} [truncated: the full text was {size} bytes, more than the limit of {limit} bytes]"
