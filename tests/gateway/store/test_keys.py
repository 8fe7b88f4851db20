from gateway.store import Subject, hash_key, key_matches


def subject_with_key(key: str) -> Subject:
    return Subject("guest", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", hash_key(key), b"{}", 0)


def test_key_matches_only_the_subjects_own_key():
    key = "k" * 64
    subject = subject_with_key(key)
    assert key_matches(subject, key)
    assert not key_matches(subject, "k" * 63 + "x")
    assert not key_matches(subject, "")


def test_hash_is_sha256_hex_and_not_the_key():
    key = "a" * 64
    assert hash_key(key) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
    assert key not in hash_key(key)
