"""`GET /metrics` and the HTTP request counts behind it."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

ACTIONS = "/api/v1/namespaces/_/actions"
HELLO = {"exec": {"kind": "nodejs:default", "code": "function main() { return {}; }"}}


async def requests_counted(client) -> dict[tuple[str, str, str], float]:
    """`whisklet_http_requests_total` by (method, route, code), as a scraper sees it."""
    response = await client.get("/metrics", auth=None)
    families = text_string_to_metric_families(response.text)
    return {
        (s.labels["method"], s.labels["route"], s.labels["code"]): s.value
        for family in families if family.name == "whisklet_http_requests"
        for s in family.samples if s.name == "whisklet_http_requests_total"
    }


async def test_metrics_are_served_without_authentication_in_prometheus_text_format(client):
    response = await client.get("/metrics", auth=None)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# HELP whisklet_activations_total " in response.text
    assert "# TYPE whisklet_activation_duration_seconds histogram" in response.text


async def test_requests_are_counted_by_route_template_and_code(client):
    assert (await client.put(f"{ACTIONS}/hello-metrics", json=HELLO)).status_code == 200
    assert (await client.get(f"{ACTIONS}/hello-metrics")).status_code == 200
    assert (await client.get(f"{ACTIONS}/missing")).status_code == 404
    counted = await requests_counted(client)
    route = "/api/v1/namespaces/{ns}/actions/{name}"
    assert counted[("PUT", route, "200")] == 1
    assert counted[("GET", route, "200")] == 1
    assert counted[("GET", route, "404")] == 1


async def test_errors_from_the_envelope_are_counted_with_their_status(client):
    assert (await client.get(ACTIONS, auth=None)).status_code == 401
    counted = await requests_counted(client)
    assert counted[("GET", "/api/v1/namespaces/{ns}/actions", "401")] == 1


async def test_paths_no_route_matches_are_counted_as_unmatched(client):
    for n in range(3):
        assert (await client.get(f"/no/such/path/{n}")).status_code == 404
    assert (await client.request("BREW", "/api/v1")).status_code == 405
    counted = await requests_counted(client)
    assert counted[("GET", "unmatched", "404")] == 3
    assert counted[("other", "/api/v1", "405")] == 1


async def test_no_label_names_a_namespace_or_an_entity(client):
    await client.put(f"{ACTIONS}/secret-name", json=HELLO)
    await client.get("/api/v1/namespaces/guest/actions/secret-name")
    text = (await client.get("/metrics", auth=None)).text
    assert "secret-name" not in text
    assert "guest" not in text


async def test_a_metrics_scrape_is_not_a_rest_response(client: httpx.AsyncClient):
    response = await client.get("/metrics", auth=None)
    assert "access-control-allow-origin" not in response.headers
