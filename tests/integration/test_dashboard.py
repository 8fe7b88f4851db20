"""The Grafana dashboard rendered: a real Prometheus scrapes the live Whisklet and answers every panel's query."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.serving import WHISKLET, ServedWhisklet, free_port, wait_until
from tests.config.dashboard import dashboard_queries, for_prometheus
from tests.integration.actions import NS, put_action, unique

HELLO = "function main(params) { return { msg: 'hello ' + (params.name || 'world') }; }"
FAILING = "function main() { return { error: 'refused' }; }"


def prometheus_binary() -> str:
    """The Prometheus server `scripts/setup` installs (Debian's `prometheus`), or the reason to go without."""
    binary = shutil.which("prometheus")
    if binary is not None:
        return binary
    root_on_debian = os.geteuid() == 0 and Path("/etc/debian_version").exists()
    if root_on_debian or os.environ.get("WHISKLET_REQUIRE_DOCKER"):
        pytest.fail("no `prometheus` binary: run scripts/setup, which installs Debian's prometheus package")
    pytest.skip("no `prometheus` binary, and only root on Debian can install it (scripts/setup does)")


@pytest.fixture
def prometheus(whisklet: ServedWhisklet, tmp_path: Path) -> Iterator[httpx.Client]:
    """A Prometheus of this test's own on 127.0.0.1 scraping the session Whisklet every second."""
    binary = prometheus_binary()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: whisklet\n    static_configs: [{{targets: ['127.0.0.1:{whisklet.port}']}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--storage.tsdb.retention.time=1h"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert wait_until(lambda: _answers(client, "/-/ready"), timeout_s=30), (tmp_path / "prometheus.log").read_text()
            assert wait_until(lambda: _latest(client, 'up{job="whisklet"}') == 1.0, timeout_s=30)
            yield client
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def namespace_client(whisklet: ServedWhisklet, invocations_per_minute: int) -> httpx.Client:
    """A client of a new namespace of its own with the given per-minute invocation limit."""
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", unique("dashboard"),
         "--invocations-per-minute", str(invocations_per_minute), "--data-dir", str(whisklet.data_dir)],
        capture_output=True, text=True, check=True,
    )
    uuid, key = created.stdout.strip().split(":")
    return httpx.Client(base_url=whisklet.url, auth=(uuid, key), timeout=90)


@pytest.fixture
def tenant(whisklet: ServedWhisklet) -> Iterator[httpx.Client]:
    with namespace_client(whisklet, 600) as client:
        yield client


@pytest.fixture
def throttled_tenant(whisklet: ServedWhisklet) -> Iterator[httpx.Client]:
    with namespace_client(whisklet, 1) as client:
        yield client


def test_every_dashboard_panel_returns_data_from_a_live_whisklet(prometheus, tenant, throttled_tenant):
    before = _latest(prometheus, "sum(whisklet_activations_total)") or 0.0
    hello, failing = unique("hello"), unique("failing")
    put_action(tenant, hello, HELLO)
    put_action(tenant, failing, FAILING)
    for n in range(5):
        assert tenant.post(f"{NS}/actions/{hello}", params={"blocking": "true"}, json={"name": str(n)}).status_code == 200
    for _ in range(2):
        assert tenant.post(f"{NS}/actions/{hello}", json={}).status_code == 202
    assert tenant.post(f"{NS}/actions/{failing}", params={"blocking": "true"}, json={}).status_code == 502
    invoked = 8 + _fire_through_a_rule(tenant, hello)
    assert tenant.get(f"{NS}/actions/{unique('missing')}").status_code == 404
    codes = [throttled_tenant.post(f"{NS}/actions/{unique('any')}", json={}).status_code for _ in range(3)]
    assert 429 in codes  # one per minute (the throttle comes before the lookup, so no action is needed)

    assert wait_until(lambda: (_latest(prometheus, "sum(whisklet_activations_total)") or 0) >= before + invoked,
                      timeout_s=60), "Prometheus never saw the activations"

    def empty_panels() -> list[str]:
        empty = []
        for title, expr in dashboard_queries():
            reply = prometheus.get("/api/v1/query", params={"query": for_prometheus(expr, "1m")}).json()
            assert reply["status"] == "success", f"panel {title!r}: {reply.get('error')}"
            values = [float(series["value"][1]) for series in reply["data"]["result"]]
            if not any(math.isfinite(value) for value in values):
                empty.append(f"{title}: {expr}")
        return empty

    # a few more scrapes, until every rate has two samples after the traffic
    wait_until(lambda: not empty_panels(), timeout_s=30, interval_s=0.5)
    empty = empty_panels()
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert _latest(prometheus, 'sum(whisklet_throttled_requests_total{reason="invocations_per_minute"})') >= 1
    assert _latest(prometheus, 'sum(whisklet_activations_total{status="application_error"})') >= 1
    assert _latest(prometheus, 'sum(whisklet_http_requests_total{code="404"})') >= 1


def _fire_through_a_rule(tenant: httpx.Client, action: str) -> int:
    """Fire a trigger whose rule invokes `action`; the invocations that made (0 while triggers are missing)."""
    trigger, rule = unique("tick"), unique("every-tick")
    if tenant.put(f"{NS}/triggers/{trigger}", json={}).status_code == 404:
        return 0
    created = tenant.put(f"{NS}/rules/{rule}", json={"trigger": f"/_/{trigger}", "action": f"/_/{action}"})
    assert created.status_code == 200, created.text
    assert tenant.post(f"{NS}/triggers/{trigger}", json={"name": "fired"}).status_code == 202
    return 1


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def _latest(client: httpx.Client, query: str) -> float | None:
    try:
        result = client.get("/api/v1/query", params={"query": query}).json()["data"]["result"]
    except (httpx.TransportError, KeyError, ValueError):
        return None
    return float(result[0]["value"][1]) if result else None
