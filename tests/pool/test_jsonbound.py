import json
import random
import time

import msgspec

from pool.jsonbound import MAX_JSON_DEPTH, json_too_deep


def nested(depth: int, inner: object = 1) -> bytes:
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return json.dumps(value).encode()


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def test_a_document_exactly_at_the_bound_passes_and_one_deeper_does_not():
    assert not json_too_deep(nested(MAX_JSON_DEPTH))
    assert json_too_deep(nested(MAX_JSON_DEPTH + 1))


def test_alternating_objects_and_arrays_count_one_level_each():
    assert json_too_deep(b"{\"a\":[" * 65 + b"1" + b"]}" * 65)  # 130 levels
    assert not json_too_deep(b"{\"a\":[" * 64 + b"1" + b"]}" * 64)  # 128 levels


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"s": "[" * 10_000, "t": "{" * 10_000 + "\\\"[[[" * 500}).encode()
    assert not json_too_deep(text)


def test_escaped_quotes_and_backslashes_do_not_end_strings_early():
    text = json.dumps(["a\\", "\"[[[[", "\\\"" + "[" * 500, "x\\\\\"{" * 300]).encode()
    assert not json_too_deep(text)
    assert json_too_deep(json.dumps(["\\\"", "\\"]).encode()[:-1] + b"," + nested(200) + b"]")


def test_wide_but_shallow_documents_pass():
    assert not json_too_deep(json.dumps([{"a": [1, {"b": []}]}] * 50_000).encode())


def test_unbalanced_openers_count_as_deep_as_a_decoder_would_go():
    assert json_too_deep(b"[" * 5_000)
    assert json_too_deep(b'{"a":' * 5_000)
    assert not json_too_deep(b"]" * 5_000 + b"[" * 3)


def test_agrees_with_the_real_depth_of_random_documents():
    rng = random.Random(7)

    def make(depth: int) -> object:
        if depth == 0:
            return rng.choice([1, "x]", "\\\"{", None, "[[\\"])
        # one deep child beside a few leaves, so that the documents stay small at any depth
        children = [make(depth - 1)] + [make(0) for _ in range(rng.randint(0, 2))]
        rng.shuffle(children)
        if rng.random() < 0.5:
            return children
        return {f"k{i}": child for i, child in enumerate(children)}

    for _ in range(300):
        value = make(rng.randint(1, 200))
        text = json.dumps(value).encode()
        assert json_too_deep(text) == (depth_of(value) > MAX_JSON_DEPTH)


def test_whatever_passes_msgspec_decodes_and_encodes_again():
    text = nested(MAX_JSON_DEPTH)
    assert not json_too_deep(text)
    assert msgspec.json.encode(msgspec.json.decode(text)) == msgspec.json.encode(json.loads(text))


def test_a_megabyte_bomb_is_judged_by_c_code_passes_not_a_python_loop():
    bomb = b"[" * 500_000 + b"]" * 500_000
    started = time.process_time()
    assert json_too_deep(bomb)
    wide = b"[" + b"[[]]," * 200_000 + b"[]]"
    assert not json_too_deep(wide)
    # reported, not asserted: the cost of judging a megabyte
    print(f"judged 2 MB of brackets in {(time.process_time() - started) * 1000:.1f} ms CPU")
