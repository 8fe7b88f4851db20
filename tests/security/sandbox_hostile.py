"""What the hostile sandbox tests share: a server of their own, its memory, and the probes' code.

Every probe is an action whose own code attacks what the gateway does with what its sandbox writes:
files in `/run/whisklet`, the runner's replies (the action's top-level code runs inside the runner
during `/init`, so it can patch the runner's HTTP server), and its output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.serving import ServedWhisklet
from pool.runner.invocation import GRACE_S
from tests.integration.actions import NS, activation, put_action

CANARY = "sandbox-canary-7c1f"
"""A value only the gateway's own environment holds: it must never show up in a record."""


def serve(data_dir: Path, **env: str) -> ServedWhisklet:
    return ServedWhisklet(data_dir, env={
        "SANDBOX_CANARY": CANARY,
        "WHISKLET_POOL_MIN_PREWARM": "2",
        "WHISKLET_LIMITS_INVOCATIONS_PER_MINUTE": "6000",
        "WHISKLET_LIMITS_CONCURRENT_INVOCATIONS": "100",
        **env,
    }).start()


@pytest.fixture(scope="module")
def hostile_whisklet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedWhisklet]:
    served = serve(tmp_path_factory.mktemp("hostile"))
    yield served
    served.stop()


@pytest.fixture
def tenant(hostile_whisklet: ServedWhisklet) -> Iterator[httpx.Client]:
    with hostile_whisklet.client(timeout_s=180) as client:
        yield client


def rss_mb(served: ServedWhisklet) -> float:
    """The gateway's resident memory."""
    assert served.process is not None
    for line in Path(f"/proc/{served.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def secrets_of(served: ServedWhisklet) -> list[str]:
    """Host data a record must never contain: the guest key, and the gateway's own environment."""
    assert served.auth is not None
    return [served.auth[1], CANARY]


def run_probe(wsk: httpx.Client, name: str, code: str, *, timeout_ms: int = 10_000, blocking: bool = True,
              **params: object) -> dict:
    """Create the action, invoke it and return its stored record (blocking: the response's id;
    non-blocking: the 202's id, polled until it resolves)."""
    put_action(wsk, name, code, limits={"timeout": timeout_ms})
    response = wsk.post(f"{NS}/actions/{name}", params={"blocking": str(blocking).lower()}, json=params)
    assert response.status_code in ((202,) if not blocking else (200, 502)), response.text
    return activation(wsk, response.json()["activationId"], timeout_s=timeout_ms / 1000 + 60)


def assert_ended_in_time_and_clean(record: dict, served: ServedWhisklet) -> None:
    """The record's own duration stays within the action's time limit plus the documented grace (and
    a margin for a busy machine), and nothing of the host is in it."""
    limit_ms = next(a["value"]["timeout"] for a in record["annotations"] if a["key"] == "limits")
    assert record["duration"] <= limit_ms + GRACE_S * 1000 + 5000
    text = str(record)
    for secret in secrets_of(served):
        assert secret not in text
