"""Alarm schedules in the store (both engines): kept across reopening, claimed once."""

import pytest

from gateway.store import Alarm


@pytest.fixture
async def store(engine):
    store = engine.store(flush_interval_s=60)
    await store.open()
    yield store
    await store.close()


def alarm(trigger: str, next_fire: int, active: bool = True) -> Alarm:
    return Alarm(trigger, trigger.split("/")[0], b'{"feed":"alarm"}', active, next_fire, 1)


async def test_alarms_survive_reopening_the_store(engine):
    store = engine.store()
    await store.open()
    await store.put_alarm(alarm("guest/t", 500))
    await store.close()
    reopened = engine.store()
    await reopened.open()
    try:
        assert await reopened.get_alarm("guest/t") == alarm("guest/t", 500)
    finally:
        await reopened.close()


async def test_due_alarms_are_active_set_and_not_later_than_now_soonest_first(store):
    for trigger, next_fire, active in [("guest/a", 300, True), ("guest/b", 100, True), ("guest/c", 50, False),
                                       ("guest/d", 0, True), ("guest/e", 900, True)]:
        await store.put_alarm(alarm(trigger, next_fire, active))
    assert [a.trigger for a in await store.due_alarms(300, limit=10)] == ["guest/b", "guest/a"]
    assert await store.next_alarm_fire() == 100


async def test_a_fire_is_claimed_once(store):
    await store.put_alarm(alarm("guest/t", 100))
    assert await store.advance_alarm("guest/t", 100, 200) is True
    assert await store.advance_alarm("guest/t", 100, 200) is False
    assert (await store.get_alarm("guest/t")).next_fire == 200


async def test_put_replaces_and_delete_removes(store):
    await store.put_alarm(alarm("guest/t", 100))
    await store.put_alarm(alarm("guest/t", 700, active=False))
    assert (await store.get_alarm("guest/t")).next_fire == 700
    assert await store.next_alarm_fire() is None
    assert await store.delete_alarm("guest/t") is True
    assert await store.delete_alarm("guest/t") is False
    assert await store.get_alarm("guest/t") is None
