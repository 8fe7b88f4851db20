"""The alarm feed actions' lifecycle against a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.clock import FakeClock
from gateway.events.alarms.feed import AlarmFeeds
from gateway.store import EntityKind, SqliteStore
from gateway.wire.models import Identity, NamespaceLimits
from pool import ActivationStatus

NOW = 1_800_000_000_000
UUID, KEY = "6b3e8a1c-0d2f-4c55-9a7e-2f1d3c4b5a69", "k" * 64
GUEST = Identity("guest", "guest", UUID, f"{UUID}:{KEY}", NamespaceLimits())


@pytest.fixture
async def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60)
    await store.open()
    await store.create_subject("guest", UUID, KEY)
    await store.create_subject("other", "0d9c1c9e-5a55-4d1b-8d1e-3d1f2a1b0c01", "o" * 64)
    await store.put_entity(EntityKind.TRIGGER, "guest", "tick", b"{}", 1, None)
    yield store
    await store.close()


@pytest.fixture
def feeds(store):
    woken = []
    feeds = AlarmFeeds(store, lambda: woken.append(True), clock=FakeClock(wall_ms=NOW))
    feeds.woken = woken
    return feeds


async def call(feeds, event, feed="alarm", **params):
    action = feeds.actions()[f"whisk.system/alarms/{feed}"]
    return await action(GUEST, {"lifecycleEvent": event, "triggerName": "/_/tick", "authKey": GUEST.authkey, **params})


async def test_create_stores_the_alarm_and_wakes_the_scheduler(feeds, store):
    assert await call(feeds, "CREATE", cron="* * * * *", trigger_payload={"a": 1}) == (
        ActivationStatus.SUCCESS, {"status": "success"},
    )
    alarm = await store.get_alarm("guest/tick")
    assert (alarm.namespace, alarm.active, alarm.next_fire) == ("guest", True, NOW + 60_000)
    assert feeds.woken


async def test_read_describes_the_configuration_and_status(feeds):
    await call(feeds, "CREATE", feed="interval", minutes=3, trigger_payload={"a": 1})
    status, result = await call(feeds, "READ", feed="interval")
    assert status is ActivationStatus.SUCCESS
    assert result["config"] == {"name": "tick", "namespace": "guest", "payload": {"a": 1}, "minutes": 3}
    assert result["status"]["active"] is True
    assert result["status"]["dateChanged"] == NOW


async def test_update_pause_unpause_and_delete(feeds, store):
    await call(feeds, "CREATE", cron="* * * * *")
    await call(feeds, "UPDATE", cron="0 * * * *")
    assert (await store.get_alarm("guest/tick")).next_fire == NOW + 60 * 60_000
    await call(feeds, "PAUSE")
    assert (await store.get_alarm("guest/tick")).active is False
    await call(feeds, "UNPAUSE")
    assert (await store.get_alarm("guest/tick")).active is True
    assert await call(feeds, "DELETE") == (ActivationStatus.SUCCESS, {"status": "success"})
    assert await store.get_alarm("guest/tick") is None
    assert (await call(feeds, "DELETE"))[0] is ActivationStatus.SUCCESS


@pytest.mark.parametrize(
    ("event", "params", "message"),
    [
        ("CREATE", {}, "alarms trigger feed is missing the cron parameter"),
        ("CREATE", {"cron": "* * * * *", "authKey": f"{UUID}:{'x' * 64}"}, "Trigger authentication request failed."),
        ("CREATE", {"cron": "* * * * *", "authKey": "0d9c1c9e-5a55-4d1b-8d1e-3d1f2a1b0c01:" + "o" * 64},
         "Trigger authentication request failed."),
        ("CREATE", {"cron": "* * * * *", "triggerName": "/_/missing"}, "Trigger authentication request failed."),
        ("READ", {}, "could not find trigger /guest/tick in the alarms database"),
        ("FROB", {}, "unsupported lifecycleEvent"),
    ],
)
async def test_refused_requests_are_application_errors(feeds, event, params, message):
    assert await call(feeds, event, **params) == (ActivationStatus.APPLICATION_ERROR, {"error": message})
