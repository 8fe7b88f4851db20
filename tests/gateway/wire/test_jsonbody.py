"""Request bodies decoded under the nesting bound (gateway/wire/jsonbody.py)."""

from __future__ import annotations

import msgspec
import pytest

from gateway.wire.errors import ApiError
from gateway.wire.jsonbody import decode_body
from gateway.wire.models import ActionPut
from pool import MAX_JSON_DEPTH


def test_a_body_at_the_bound_decodes_and_one_level_more_is_a_400_malformed():
    assert decode_body(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(ApiError) as caught:
        decode_body(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert caught.value.status == 400
    assert caught.value.message.startswith("The request content was malformed:\n")
    assert "nested more than 128 levels" in caught.value.message


def test_a_typed_decoder_gets_the_same_bound_and_its_own_errors():
    with pytest.raises(ApiError) as caught:
        decode_body(b'{"exec":' * 200 + b"1" + b"}" * 200, msgspec.json.Decoder(ActionPut))
    assert "nested more than 128 levels" in caught.value.message
    with pytest.raises(ApiError) as caught:
        decode_body(b'{"exec": 1}', msgspec.json.Decoder(ActionPut))
    assert caught.value.status == 400 and "at `$.exec`" in caught.value.message


def test_a_recursion_error_while_decoding_is_a_400_not_a_500():
    class Exhausted:
        def decode(self, body):
            raise RecursionError("maximum recursion depth exceeded")

    with pytest.raises(ApiError) as caught:
        decode_body(b"{}", Exhausted())  # type: ignore[arg-type]
    assert caught.value.status == 400
