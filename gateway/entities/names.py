"""Validation of path segments and query parameters, with OpenWhisk's 400 messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.wire.errors import (
    ACTIVATION_ID_INVALID,
    DOCS_WITH_COUNT,
    ILLEGAL_NAME,
    ILLEGAL_NAMESPACE,
    ApiError,
    bad_wait_timeout,
    malformed_query,
)

# Java's `\w` is ASCII-only; so is this one.
NAME = re.compile(r"\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\Z", re.ASCII)
ACTIVATION_ID = re.compile(r"\A[0-9a-f]{32}\Z")
INTEGER = re.compile(r"\A-?[0-9]{1,18}\Z")

LIST_LIMIT_DEFAULT = 30
LIST_LIMIT_MAX = 200

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def entity_name(segment: str) -> str:
    if not NAME.match(segment):
        raise ApiError(400, ILLEGAL_NAME)
    return segment


def namespace_name(segment: str) -> str:
    if not NAME.match(segment):
        raise ApiError(400, ILLEGAL_NAMESPACE)
    return segment


def activation_id(segment: str) -> str:
    if len(segment) != 32:
        raise ApiError(400, f"Activation id length is {len(segment)} but must be 32.")
    if not ACTIVATION_ID.match(segment):
        raise ApiError(400, ACTIVATION_ID_INVALID)
    return segment


def flag(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter, read as akka-http reads one (`true/yes/on/1`, `false/no/off/0`)."""
    value = query.get(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise malformed_query(name, f"'{value}' is not a valid Boolean value")


def epoch_ms(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not INTEGER.match(value):
        raise malformed_query(name, f"'{value}' is not a valid 64-bit signed integer value")
    return int(value)


def wait_ms(query: Mapping[str, str], max_ms: int) -> int:
    """The `timeout` of a blocking invoke: 1 to `max_ms` milliseconds, `max_ms` when absent."""
    value = query.get("timeout")
    if value is None:
        return max_ms
    if not INTEGER.match(value) or not 0 < int(value) <= max_ms:
        raise bad_wait_timeout(max_ms)
    return int(value)


@dataclass(frozen=True, slots=True)
class Page:
    """Which part of a collection to list, or to count when `count` is set."""

    limit: int
    skip: int
    count: bool


def page(query: Mapping[str, str], collection: str) -> Page:
    """`limit` (default 30, 0 means 200, at most 200), `skip` (at least 0) and `count`."""
    limit = _integer(query, "limit", collection, LIST_LIMIT_DEFAULT)
    if not 0 <= limit <= LIST_LIMIT_MAX:
        raise ApiError(400, f"The value '{limit}' is not in the range of 0 to {LIST_LIMIT_MAX} for {collection}.")
    skip = _integer(query, "skip", collection, 0)
    if skip < 0:
        raise ApiError(400, f"The value '{skip}' is not greater than or equal to 0 for {collection}.")
    return Page(limit or LIST_LIMIT_MAX, skip, flag(query, "count"))


@dataclass(frozen=True, slots=True)
class ActivationQuery:
    page: Page
    docs: bool
    name: str | None
    since: int | None
    upto: int | None


def activation_query(query: Mapping[str, str]) -> ActivationQuery:
    """The activations list's parameters; `name` is `action` or `package/action`."""
    listing = page(query, "activations")
    docs = flag(query, "docs")
    if docs and listing.count:
        raise ApiError(400, DOCS_WITH_COUNT)
    name = query.get("name")
    if name is not None:
        for segment in name.split("/", 1):
            entity_name(segment)
    return ActivationQuery(listing, docs, name, epoch_ms(query, "since"), epoch_ms(query, "upto"))


def _integer(query: Mapping[str, str], name: str, collection: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not INTEGER.match(value):
        raise ApiError(400, f"The value '{value}' is not an integer for {collection}.")
    return int(value)
