"""Helpers for the event-model end-to-end tests: triggers, rules, packages and waiting for activations."""

from __future__ import annotations

import time

import httpx

from tests.integration.actions import NS


def put(wsk: httpx.Client, collection: str, name: str, body: dict | None = None) -> dict:
    response = wsk.put(f"{NS}/{collection}/{name}", params={"overwrite": "true"}, json=body or {})
    assert response.status_code == 200, response.text
    return response.json()


def put_rule(wsk: httpx.Client, name: str, trigger: str, action: str) -> dict:
    return put(wsk, "rules", name, {"trigger": f"/_/{trigger}", "action": f"/_/{action}"})


def fire(wsk: httpx.Client, trigger: str, payload: dict | None = None, **headers) -> httpx.Response:
    return wsk.post(f"{NS}/triggers/{trigger}", json=payload or {}, headers=headers)


def records_of(wsk: httpx.Client, name: str, at_least: int = 1, timeout_s: float = 30.0) -> list[dict]:
    """The full records listed under `name` (`action` or `pkg/action`), polling until there are `at_least`."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = wsk.get(f"{NS}/activations", params={"name": name, "docs": "true", "limit": 200})
        assert response.status_code == 200, response.text
        records = response.json()
        if len(records) >= at_least or time.monotonic() > deadline:
            return records
        time.sleep(0.2)
