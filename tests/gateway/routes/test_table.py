"""gateway/routes/table.py: a request finds its route by base path, exact path, template, then prefix."""

from __future__ import annotations

import msgspec

from gateway.routes.document import Endpoint, add_endpoint, base_document
from gateway.routes.table import CompiledApis, compile_api, find_route
from gateway.store import Api


def api(base_path: str, *paths: str) -> Api:
    doc = base_document(base_path, base_path)
    for path in paths:
        doc = add_endpoint(doc, Endpoint(path, "get", "guest", "act", "http", "https://h", []))
    return Api("guest", base_path, msgspec.json.encode(doc), 1, 0)


def test_the_longest_base_path_wins_and_exact_paths_beat_templates():
    apis = [compile_api(api("/", "/club/{x}")), compile_api(api("/club", "/books", "/{shelf}"))]
    match = find_route(apis, ["club", "books"])
    assert match is not None and match.api.base_path == "/club" and match.resource.path == "/books"
    match = find_route(apis, ["club", "magazines"])
    assert match is not None and match.resource.path == "/{shelf}"


def test_a_shorter_resource_matches_and_leaves_the_rest_as_remainder():
    match = find_route([compile_api(api("/club", "/books"))], ["club", "books", "a", "b"])
    assert match is not None and (match.resource.path, match.remainder) == ("/books", "/a/b")


def test_no_route_outside_every_base_path():
    assert find_route([compile_api(api("/club", "/books"))], ["other", "books"]) is None


def test_a_changed_document_is_compiled_anew():
    cache = CompiledApis()
    first = cache.get(api("/club", "/books"))
    assert cache.get(api("/club", "/books")) is first
    assert cache.get(api("/club", "/magazines")).exact.keys() == {("magazines",)}
