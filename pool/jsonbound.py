"""The nesting bound on JSON a tenant sends: request bodies and runner replies.

msgspec (like every recursive decoder) raises `RecursionError` somewhere past Python's recursion
limit, at a depth that depends on how deep the caller's own stack already is. A fixed, documented
bound checked before decoding makes the answer the same everywhere: a request body deeper than
`MAX_JSON_DEPTH` is a 400, a result that deep is a developer error, and whatever passed the check
can be decoded, re-encoded and nested into a record without reaching the interpreter's limit.
"""

from __future__ import annotations

import itertools
import operator

MAX_JSON_DEPTH = 128
"""Arrays and objects nested in one another, at most."""

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # an opener adds 1 to the depth, a closer takes 1


def json_too_deep(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `data` nests arrays and objects more than `max_depth` deep.

    Linear in `len(data)`, and run by C code only (`bytes` methods, `itertools`, `max`): a document
    with at most `max_depth` opening brackets is cleared by counting them; any other has its strings
    cut out and is reduced to its brackets, each opener a 2 and each closer a 0, so that the depth
    after the k-th bracket is their running sum minus k. A depth of exactly `max_depth` is allowed.
    Malformed text counts as deep as a recursive decoder could get before noticing, so the check is
    never weaker than the decoder.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    # Escapes first, so that every `"` left opens or closes a string; then keep the text between
    # strings (the even pieces), and only its brackets.
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    steps = b"".join(unescaped.split(b'"')[::2]).translate(_STEPS, _NOT_BRACKETS)
    if b"\x02" * (max_depth + 1) in steps:  # the plainest bomb, found without summing its depths
        return True
    return max(map(operator.sub, itertools.accumulate(steps), itertools.count(1)), default=0) > max_depth
