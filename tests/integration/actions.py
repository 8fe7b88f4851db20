"""Helpers shared by the end-to-end tests: creating actions and invoking them over HTTP."""

from __future__ import annotations

import subprocess
import time
import uuid

import httpx

from bench.serving import WHISKLET, ServedWhisklet

NS = "/api/v1/namespaces/_"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def namespace_client(whisklet: ServedWhisklet, prefix: str, invocations_per_minute: int = 6000) -> httpx.Client:
    """A client of a new namespace of the running `whisklet` (`whisklet namespace create`), whose
    throttles a test module does not share with the others. Its name is `client.namespace`."""
    name = unique(prefix)
    created = subprocess.run(
        [str(WHISKLET), "namespace", "create", name, "--invocations-per-minute", str(invocations_per_minute),
         "--concurrent-invocations", "100", "--data-dir", str(whisklet.data_dir)],
        capture_output=True, text=True, check=True,
    )
    uuid_, key = created.stdout.strip().split(":")
    client = httpx.Client(base_url=whisklet.url, auth=(uuid_, key), timeout=90)
    client.namespace = name
    return client


def put_action(wsk: httpx.Client, name: str, code: str, **fields) -> dict:
    body = {"exec": {"kind": fields.pop("kind", "nodejs:default"), "code": code}, **fields}
    response = wsk.put(f"{NS}/actions/{name}", params={"overwrite": "true"}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def invoke(wsk: httpx.Client, name: str, params: dict | None = None, **query) -> httpx.Response:
    query = {"blocking": "true", **{k: str(v).lower() for k, v in query.items()}}
    return wsk.post(f"{NS}/actions/{name}", params=query, json=params or {})


def activation(wsk: httpx.Client, activation_id: str, timeout_s: float = 30.0) -> dict:
    """The stored record, polling until it is there."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = wsk.get(f"{NS}/activations/{activation_id}")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(0.1)


def annotations(record: dict) -> dict:
    return {a["key"]: a["value"] for a in record["annotations"]}
