"""Limits on the live server: namespace throttles changed by an operator, payload, result and request size."""

from __future__ import annotations

import subprocess

import httpx

from bench.serving import WHISKLET, wait_until
from tests.integration.actions import NS, invoke, put_action, unique


def whisklet_cli(served, *args: str) -> str:
    done = subprocess.run([str(WHISKLET), *args, "--data-dir", str(served.data_dir)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_limits_an_operator_sets_apply_to_a_running_server_without_a_restart(whisklet):
    namespace = unique("tenant")
    auth = tuple(whisklet_cli(whisklet, "namespace", "create", namespace).strip().split(":"))
    with httpx.Client(base_url=whisklet.url, auth=auth, timeout=60) as tenant:
        put_action(tenant, "hello", "function main() { return {}; }")
        shown = whisklet_cli(whisklet, "namespace", "limits", namespace, "--invocations-per-minute", "0")
        assert "invocationsPerMinute\t0\tnamespace" in shown
        assert wait_until(lambda: tenant.get(f"{NS}/limits").json()["invocationsPerMinute"] == 0, timeout_s=10)
        refused = tenant.post(f"{NS}/actions/hello", json={})
        assert refused.status_code == 429
        assert refused.json()["error"] == "Too many requests in the last minute (count: 1, allowed: 0)."
        whisklet_cli(whisklet, "namespace", "limits", namespace, "--reset")
        assert wait_until(lambda: tenant.get(f"{NS}/limits").json()["invocationsPerMinute"] == 60, timeout_s=10)


def test_a_result_over_the_limit_is_an_application_error_with_openwhisks_text(wsk):
    name = unique("big-result")
    put_action(wsk, name, "function main() { return {big: 'x'.repeat(2 * 1024 * 1024)}; }")
    response = invoke(wsk, name)
    assert response.status_code == 502
    record = response.json()
    assert record["response"]["status"] == "application error"
    error = record["response"]["result"]["error"]
    assert error.startswith("The action produced a response that exceeded the allowed length: 2097162 > 1048576 bytes. "
                            'The truncated response was: {"big":"xxx')
    assert len(error) < 1048576 + 200


def test_a_payload_over_the_limit_is_413(wsk):
    name = unique("payload")
    put_action(wsk, name, "function main() { return {}; }")
    response = wsk.post(f"{NS}/actions/{name}", content=b'{"x":"' + b"a" * (1024 * 1024) + b'"}',
                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "Request larger than allowed: 1048584 > 1048576 bytes."


def test_oversized_request_headers_are_431_in_the_error_envelope(whisklet):
    with httpx.Client(base_url=whisklet.url, timeout=30) as client:
        response = client.get("/api/v1", headers={"x-padding": "p" * 100_000})
    assert response.status_code == 431
    assert response.json()["code"] == response.headers["x-request-id"]
