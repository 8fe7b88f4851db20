"""gateway/routes/paths.py: base paths, path checks and operation ids as OpenWhisk spells them."""

from __future__ import annotations

import pytest

from gateway.routes.paths import normalise_base_path, operation_id, path_parameters, path_problem, verb_problem


@pytest.mark.parametrize(("verb", "path", "expected"), [
    ("get", "/foo/bar", "getFooBar"),
    ("POST", "/foo/bar", "postFooBar"),
    ("put", "/books/{isbn}", "putBooksIsbn"),
    ("get", "/", "get"),
    ("get", "/path/with/sub_paths/in/it", "getPathWithSub_pathsInIt"),
])
def test_operation_ids_are_the_ones_apache_asserts(verb: str, path: str, expected: str):
    assert operation_id(verb, path) == expected


@pytest.mark.parametrize(("given", "expected"), [("/club", "/club"), ("club/", "/club"), ("//club//", "/club"), ("/", "/")])
def test_base_paths_that_differ_only_in_slashes_are_one(given: str, expected: str):
    assert normalise_base_path(given) == expected


def test_path_parameters_are_listed_once_in_order():
    assert path_parameters("/a/{id}/b/{name}/{id}") == ["id", "name"]


def test_paths_must_begin_with_a_slash_and_have_no_quote():
    assert path_problem("books", "resource path") == "Resource path must begin with '/'."
    assert path_problem("/bo'oks", "resource path") == "resource path contains illegal character \"'\"."
    assert path_problem("/books/{isbn}", "resource path") is None


def test_a_parameter_must_be_a_whole_segment():
    assert path_problem("/books/x{isbn}", "resource path") is not None


def test_unknown_verbs_are_refused_with_the_gateways_message():
    assert verb_problem("FETCH") == "Resource verb 'FETCH' not supported."
    assert verb_problem("Patch") is None
