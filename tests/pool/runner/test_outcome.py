"""How runner replies become outcomes: bounds, nesting and odd-but-valid JSON."""

from __future__ import annotations

import json

from pool.activation import ActivationStatus
from pool.runner.outcome import interpret_init, interpret_run

LIMIT = 1000


def error_of(result: bytes) -> str:
    return json.loads(result)["error"]


def test_a_result_nested_deeper_than_the_bound_is_a_developer_error_not_a_crash() -> None:
    body = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, result = interpret_run(200, body, 1_000_000)
    assert status is ActivationStatus.DEVELOPER_ERROR
    assert "nested deeper than 128 levels" in error_of(result)


def test_a_result_nested_exactly_at_the_bound_is_a_success() -> None:
    body = b"[" * 128 + b"]" * 128
    assert interpret_run(200, body, LIMIT) == (ActivationStatus.SUCCESS, body)


def test_a_lone_surrogate_is_valid_json_as_in_openwhisk_and_stored_as_a_question_mark() -> None:
    status, result = interpret_run(200, b'{"s":"a\\ud800b","pair":"\\ud83d\\ude00"}', LIMIT)
    assert status is ActivationStatus.SUCCESS
    assert json.loads(result) == {"s": "a?b", "pair": "\U0001f600"}
    result.decode("utf-8")  # strict: nothing unencodable reaches the record


def test_nan_is_still_not_json() -> None:
    status, result = interpret_run(200, b'{"n":NaN}', LIMIT)
    assert status is ActivationStatus.DEVELOPER_ERROR
    assert "did not produce a valid JSON" in error_of(result)


def test_an_init_failure_longer_than_the_limit_is_stored_capped_with_its_true_size() -> None:
    body = json.dumps({"error": "x" * 5000}).encode()
    kept = body[:LIMIT + 100]
    result = interpret_init(502, kept, LIMIT, size=len(body))
    assert result is not None and len(result) < LIMIT + 300
    assert f"the full text was {len(body)} bytes" in error_of(result)


def test_an_init_error_within_the_slack_but_past_the_limit_is_capped() -> None:
    body = json.dumps({"error": "y" * (LIMIT + 500)}).encode()
    result = interpret_init(502, body, LIMIT)
    assert result is not None and len(result) < LIMIT + 300
    assert "more than the limit of 1000 bytes" in error_of(result)


def test_a_small_init_error_is_kept_whole() -> None:
    assert interpret_init(502, b'{"error":"bad code"}', LIMIT) == b'{"error":"bad code"}'


def test_a_deep_init_reply_is_an_init_failure_not_a_crash() -> None:
    result = interpret_init(502, b"[" * 5000, LIMIT)
    assert result is not None and error_of(result).startswith("The action failed during initialization: ")


def test_an_application_error_longer_than_the_limit_is_capped() -> None:
    body = json.dumps({"error": "\u0001" * 900}).encode()  # 900 characters, 5400 bytes escaped
    status, result = interpret_run(200, body[:LIMIT], LIMIT, size=len(body))
    assert status is ActivationStatus.APPLICATION_ERROR
    assert len(result) < 2 * LIMIT
