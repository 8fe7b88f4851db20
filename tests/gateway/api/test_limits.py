"""Throttles, limits and durable activation writes through the HTTP API, on a real controller and store.

The pool runs fake sandboxes (tests/pool/fake_driver.py); the throttle's clock is frozen inside one
calendar minute so per-minute counts never roll over mid-test.
"""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from gateway.app import Services, build_app
from gateway.config import Config, LimitsConfig
from gateway.invoke.admission import MinuteCounter, Throttle
from gateway.invoke.controller import Controller
from gateway.store import SqliteStore
from pool import Pool, PoolConfig
from tests.gateway.store.faults import make_read_only, make_writable
from tests.pool.fake_driver import FakeDriver

GUEST = ("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "g" * 64)
GENEROUS = ("0d9c1c9e-5a55-4d1b-8d1e-3d1f2a1b0c01", "h" * 64)  # invocationsPerMinute 600
BLOCKED = ("7f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "b" * 64)  # invocationsPerMinute 0
ACTIONS = "/api/v1/namespaces/_/actions"
HELLO = {"exec": {"kind": "nodejs:default", "code": "function main(p) { return p; }"}}


@pytest.fixture
async def served(tmp_path):
    """(client, store, driver) over an app with a real controller, limits 3/minute and 2 in flight."""
    driver = FakeDriver(tmp_path / "run")
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60)  # only awaited flushes write
    await store.open()
    await store.create_subject("guest", *GUEST)
    await store.create_subject("generous", *GENEROUS, limits=b'{"invocationsPerMinute":600}')
    await store.create_subject("blocked", *BLOCKED, limits=b'{"invocationsPerMinute":0}')
    pool = Pool(driver, PoolConfig(min_prewarm=1, queue_timeout_s=2.0), default_memory_mb=256)
    await pool.start()
    limits = LimitsConfig(invocations_per_minute=3, concurrent_invocations=2)
    controller = Controller(store, pool, Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0)), limits,
                            api_host="http://127.0.0.1:3233")
    config = Config(limits=limits)
    app = build_app(Services(config=config, store=store, controller=controller))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://whisklet", auth=GUEST) as client:
        for auth in (GUEST, GENEROUS, BLOCKED):
            response = await client.put(f"{ACTIONS}/hello", json=HELLO, auth=auth)
            assert response.status_code == 200, response.text
        yield client, store, driver
    await controller.drain()
    await pool.stop(grace_s=1)
    await store.close()


async def invoke(client, *, blocking=False, auth=GUEST, name="hello", **kwargs):
    return await client.post(f"{ACTIONS}/{name}", params={"blocking": str(blocking).lower()}, auth=auth, **kwargs)


def committed(store: SqliteStore, activation_id: str) -> list[str]:
    """Where the activation is in the database file as another process sees it: journal and/or record."""
    with sqlite3.connect(store.path) as db:
        journal = db.execute("SELECT 1 FROM accepted WHERE activation_id = ?", (activation_id,)).fetchall()
        record = db.execute("SELECT 1 FROM activations WHERE activation_id = ?", (activation_id,)).fetchall()
    return ["journal"] * len(journal) + ["record"] * len(record)


async def test_the_fourth_invocation_in_a_minute_is_429_with_openwhisks_text(served):
    client, _, _ = served
    for _ in range(3):
        assert (await invoke(client, blocking=True)).status_code == 200
    response = await invoke(client, blocking=True)
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests in the last minute (count: 4, allowed: 3)."
    assert response.json()["code"] == response.headers["x-request-id"]


async def test_a_namespace_override_raises_its_own_per_minute_limit(served):
    client, _, _ = served
    statuses = [(await invoke(client, blocking=True, auth=GENEROUS)).status_code for _ in range(5)]
    assert statuses == [200] * 5


async def test_a_namespace_limited_to_zero_invocations_is_refused_every_one(served):
    client, _, _ = served
    response = await invoke(client, auth=BLOCKED)
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests in the last minute (count: 1, allowed: 0)."


async def test_activations_in_flight_beyond_the_concurrent_limit_are_429(served):
    client, _, driver = served
    driver.run_delay_s = 1.0
    assert (await invoke(client)).status_code == 202
    assert (await invoke(client)).status_code == 202
    response = await invoke(client)
    assert response.status_code == 429
    assert response.json()["error"] == "Too many concurrent requests in flight (count: 2, allowed: 2)."


async def test_a_slot_is_free_again_once_the_activation_ended(served):
    client, _, _ = served
    for _ in range(3):  # each one ends before the next; the limit of 2 in flight is never reached
        assert (await invoke(client, blocking=True)).status_code == 200


async def test_the_throttle_is_checked_before_the_payload_size_and_the_action_lookup(served):
    client, _, _ = served
    for _ in range(3):
        await invoke(client, name="missing")
    huge = b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    over_size = await invoke(client, content=huge, headers={"content-type": "application/json"})
    assert over_size.status_code == 429
    missing = await invoke(client, name="missing")
    assert missing.status_code == 429


async def test_the_limits_route_shows_the_effective_throttles(served):
    client, _, _ = served
    mine = (await client.get("/api/v1/namespaces/_/limits")).json()
    assert (mine["invocationsPerMinute"], mine["concurrentInvocations"], mine["firesPerMinute"]) == (3, 2, 60)
    generous = (await client.get("/api/v1/namespaces/_/limits", auth=GENEROUS)).json()
    assert generous["invocationsPerMinute"] == 600
    blocked = (await client.get("/api/v1/namespaces/_/limits", auth=BLOCKED)).json()
    assert blocked["invocationsPerMinute"] == 0


async def test_a_202_is_sent_only_once_the_activation_is_committed(served):
    client, store, driver = served
    driver.run_delay_s = 0.5
    response = await invoke(client)
    assert response.status_code == 202
    assert committed(store, response.json()["activationId"]) == ["journal"]


async def test_a_blocking_result_is_sent_only_once_its_record_is_committed(served):
    client, store, _ = served
    response = await invoke(client, blocking=True, json={"n": 1})
    assert response.status_code == 200
    assert committed(store, response.json()["activationId"]) == ["record"]


async def test_a_blocking_wait_that_runs_out_answers_202_with_a_committed_journal(served):
    client, store, driver = served
    driver.run_delay_s = 1.0
    response = await client.post(f"{ACTIONS}/hello", params={"blocking": "true", "timeout": "50"})
    assert response.status_code == 202
    assert committed(store, response.json()["activationId"]) == ["journal"]


async def test_an_invoke_the_store_cannot_record_is_503_and_never_runs(served):
    client, store, driver = served
    await make_read_only(store)
    runs_before = len(driver.destroyed)
    response = await invoke(client)
    assert response.status_code == 503
    assert "read-only" in response.json()["error"]
    await asyncio.sleep(0.2)
    assert len(driver.destroyed) == runs_before  # no sandbox was used
    await make_writable(store)
    assert (await invoke(client)).status_code == 202  # its concurrency slot was given back


async def test_a_blocking_invoke_the_store_cannot_record_runs_and_says_its_record_is_not_stored(served):
    client, store, _driver = served
    await make_read_only(store)
    try:
        response = await invoke(client, blocking=True, json={"n": 1})
    finally:
        await make_writable(store)
    assert response.status_code == 200
    assert "not stored yet" in response.headers["warning"]
    await store.flush()
    assert committed(store, response.json()["activationId"]) == ["record"]


async def test_a_blocking_result_whose_record_cannot_be_written_says_so(served):
    client, store, driver = served
    driver.run_delay_s = 0.3
    invoking = asyncio.create_task(invoke(client, blocking=True))
    await asyncio.sleep(0.1)  # the journal is committed; the run is under way
    await make_read_only(store)
    response = await invoking
    assert response.status_code == 200
    assert "not stored yet" in response.headers["warning"]
    await make_writable(store)
    await store.flush()
    assert committed(store, response.json()["activationId"]) == ["record"]


async def make_rule(client) -> None:
    assert (await client.put("/api/v1/namespaces/_/triggers/tick", json={})).status_code == 200
    rule = {"trigger": "/_/tick", "action": "/_/hello"}
    assert (await client.put("/api/v1/namespaces/_/rules/tock", json=rule)).status_code == 200


async def test_fires_past_the_per_minute_limit_are_429_and_counted_apart(served):
    client, _, _ = served
    await make_rule(client)
    statuses = [(await client.post("/api/v1/namespaces/_/triggers/tick", json={})).status_code for _ in range(60)]
    assert statuses == [202] * 60  # the invocations the rule started ran into their own limit, not the fires'
    response = await client.post("/api/v1/namespaces/_/triggers/tick", json={})
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests in the last minute (count: 61, allowed: 60)."


async def test_invocations_started_by_rules_count_against_the_invocation_limit(served):
    client, _, _ = served
    await make_rule(client)
    for _ in range(3):
        assert (await client.post("/api/v1/namespaces/_/triggers/tick", json={})).status_code == 202
    response = await invoke(client)
    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests in the last minute (count: 4, allowed: 3)."


async def test_with_the_engine_down_an_invoke_is_refused_503_before_anything_is_recorded(served):
    client, store, driver = served
    driver.engine_down = True
    for _ in range(100):  # until the pool has learnt that the engine is gone and has nothing prewarmed
        journalled = journal_size(store)
        response = await invoke(client)
        if response.status_code == 503:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 503
    assert "Check that dockerd is running." in response.json()["error"]
    assert "x-openwhisk-activation-id" not in response.headers
    assert journal_size(store) == journalled


def journal_size(store: SqliteStore) -> int:
    with sqlite3.connect(store.path) as db:
        return db.execute("SELECT COUNT(*) FROM accepted").fetchone()[0]
