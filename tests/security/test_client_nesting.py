"""Request bodies nested past the bound are OpenWhisk's 400 `malformed` on every route, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.actions import NS, unique
from tests.security import client_hostile

pytestmark = pytest.mark.docker

web_action = client_hostile.web_action  # a fixture

MALFORMED = "The request content was malformed:\n"
DEPTH = 6000  # deep enough to exhaust a recursive decoder: 500 and a traceback before the bound
BOMBS = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "inside an object": b'{"parameters":' + b"[" * DEPTH + b"]" * DEPTH + b"}",
}
ROUTES = [
    ("POST", "actions/{name}?blocking=true"),
    ("PUT", "actions/{name}?overwrite=true"),
    ("PUT", "packages/{name}?overwrite=true"),
    ("PUT", "triggers/{name}?overwrite=true"),
    ("POST", "triggers/{name}"),
    ("PUT", "rules/{name}?overwrite=true"),
    ("POST", "rules/{name}"),
]


def assert_malformed_nesting(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error.startswith(MALFORMED) and "nested more than 128 levels" in error
    assert set(response.json()) == {"error", "code"}


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r.split('?')[0]}" for m, r in ROUTES])
def test_a_nesting_bomb_in_any_rest_body_is_a_400_malformed(wsk: httpx.Client, method: str, route: str, bomb: bytes):
    path = f"{NS}/{route.format(name=unique('deep'))}"
    response = wsk.request(method, path, content=bomb, headers={"content-type": "application/json"})
    assert_malformed_nesting(response)


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_a_nesting_bomb_in_a_web_action_json_body_is_a_400_malformed(whisklet, web_action: str, bomb: bytes):
    url = f"{whisklet.url}/api/v1/web/guest/default/{web_action}.json"
    response = httpx.post(url, content=bomb, headers={"content-type": "application/json"}, timeout=60)
    assert_malformed_nesting(response)


def test_nesting_up_to_the_bound_is_accepted(wsk: httpx.Client):
    name = unique("deep")
    value = b"[" * 120 + b"1" + b"]" * 120
    body = b'{"key":"k","value":' + value + b"}"
    put = b'{"exec":{"kind":"nodejs:20","code":"function main(p) { return {}; }"},"parameters":[' + body + b"]}"
    response = wsk.put(f"{NS}/actions/{name}", content=put, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text[:300]
    assert wsk.get(f"{NS}/actions/{name}").json()["parameters"][0]["value"] is not None
