"""The alarm scheduler against a real store, a fake clock and a controller that records the rules' invocations.

Time moves only when a test advances the clock; `clock.waited(n)` tells that the scheduler has done its
n-th round and gone idle."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from gateway.clock import FakeClock
from gateway.events.alarms.schedule import make_spec
from gateway.events.alarms.scheduler import AlarmScheduler
from gateway.invoke.admission import Admission
from gateway.invoke.controller import Invocation
from gateway.invoke.observer import GatewayObserver
from gateway.store import Alarm, EntityKind, SqliteStore
from gateway.wire.models import Action, ActionLimits, Exec, encoder

SECOND = 1000
TRIGGER = {"namespace": "guest", "name": "tick", "version": "0.0.1", "publish": False, "parameters": [],
           "annotations": [], "updated": 1, "limits": {},
           "rules": {"guest/r": {"action": {"path": "guest", "name": "a"}, "status": "active"}}}


ACTION = Action(namespace="guest", name="a", version="0.0.1", publish=False,
                exec=Exec(kind="nodejs:20", code="function main(){}"), parameters=[], annotations=[],
                limits=ActionLimits(timeout=5000, memory=256), updated=1)


class RecordingController:
    """Records each invocation a fire starts: the rule's action and the payload it got (without `__ow_headers`)."""

    def __init__(self, may_fire: bool = True):
        self.observer = GatewayObserver()
        self.fires: list[tuple[str, dict]] = []
        self._may_fire = may_fire

    def may_fire(self, identity):
        return self._may_fire

    def admit_fire(self, identity):
        pass

    def admit(self, identity):
        return Admission(identity.namespace, lambda _: None)

    async def invoke(self, identity, action, payload, **_):
        arguments = {key: value for key, value in payload.items() if key != "__ow_headers"}
        self.fires.append((f"{action.namespace}/{action.name}", arguments))
        return Invocation("0" * 32, None)


@pytest.fixture
async def store(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db", flush_interval_s=60)
    await store.open()
    await store.create_subject("guest", "6b3e8a1c-0d2f-4c55-9a7e-2f1d3c4b5a69", "k" * 64)
    await store.put_entity(EntityKind.TRIGGER, "guest", "tick", msgspec.json.encode(TRIGGER), 1, None)
    await store.put_entity(EntityKind.ACTION, "guest", "a", encoder.encode(ACTION), 1, None)
    yield store
    await store.close()


async def add_alarm(store, spec, next_fire):
    await store.put_alarm(Alarm("guest/tick", "guest", msgspec.json.encode(spec), True, next_fire, 0))


async def one_round(store, clock, controller):
    """Start a scheduler, let it do one round until it goes idle, and stop it."""
    scheduler = AlarmScheduler(store, clock)
    scheduler.start(controller)
    await clock.waited(clock.waits + 1)
    await scheduler.stop()


async def test_a_due_alarm_fires_its_trigger_with_its_payload_and_moves_on(store):
    clock, controller = FakeClock(), RecordingController()
    spec = make_spec("alarm", {"cron": "* * * * * *", "trigger_payload": {"a": 1}}, clock.wall_ms())
    await add_alarm(store, spec, clock.wall_ms())
    await one_round(store, clock, controller)
    assert controller.fires == [("guest/a", {"a": 1})]  # the trigger's one rule started its action
    assert (await store.get_alarm("guest/tick")).next_fire == clock.wall_ms() + SECOND


async def test_fires_missed_while_down_are_fired_once_and_not_again_after_a_restart(store):
    clock, controller = FakeClock(), RecordingController()
    spec = make_spec("alarm", {"cron": "* * * * * *"}, clock.wall_ms() - 60 * SECOND)
    await add_alarm(store, spec, clock.wall_ms() - 30 * SECOND)  # 30 fires were missed
    await one_round(store, clock, controller)
    await one_round(store, clock, controller)  # restarted within the same second
    assert len(controller.fires) == 1
    assert (await store.get_alarm("guest/tick")).next_fire == clock.wall_ms() + SECOND


async def test_two_schedulers_on_one_store_fire_once(store):
    clock, controller = FakeClock(), RecordingController()
    await add_alarm(store, make_spec("alarm", {"cron": "* * * * *"}, clock.wall_ms()), clock.wall_ms())
    schedulers = [AlarmScheduler(store, clock) for _ in range(2)]
    for scheduler in schedulers:
        scheduler.start(controller)
    await clock.waited(2)
    for scheduler in schedulers:
        await scheduler.stop()
    assert len(controller.fires) == 1


async def test_once_alarm_deleting_its_rules_after_the_fire(store):
    clock, controller = FakeClock(), RecordingController()
    await store.put_entity(EntityKind.RULE, "guest", "r", b"{}", 1, None)
    spec = make_spec("once", {"date": clock.wall_ms(), "deleteAfterFire": "rules"}, clock.wall_ms() - SECOND)
    await add_alarm(store, spec, clock.wall_ms())
    await one_round(store, clock, controller)
    assert len(controller.fires) == 1
    assert (await store.get_alarm("guest/tick")).next_fire == 0
    assert await store.get_entity("guest", "r") is None
    trigger = msgspec.json.decode((await store.get_entity("guest", "tick")).doc)
    assert trigger["rules"] == {}


async def test_alarm_of_a_deleted_trigger_is_removed(store):
    clock, controller = FakeClock(), RecordingController()
    await add_alarm(store, make_spec("alarm", {"cron": "* * * * *"}, clock.wall_ms()), clock.wall_ms())
    await store.delete_entity("guest", "tick")
    await one_round(store, clock, controller)
    assert controller.fires == []
    assert await store.get_alarm("guest/tick") is None


async def test_a_new_alarm_wakes_the_scheduler(store):
    clock, controller = FakeClock(), RecordingController()
    scheduler = AlarmScheduler(store, clock)
    scheduler.start(controller)
    await clock.waited(1)  # idle, with nothing to fire
    await add_alarm(store, make_spec("alarm", {"cron": "* * * * *"}, clock.wall_ms()), clock.wall_ms())
    scheduler.wake()
    await clock.waited(2)
    await scheduler.stop()
    assert len(controller.fires) == 1


async def test_a_cron_alarm_fires_again_only_when_the_clock_reaches_its_next_fire(store):
    clock, controller = FakeClock(), RecordingController()
    await add_alarm(store, make_spec("alarm", {"cron": "* * * * * *"}, clock.wall_ms()), clock.wall_ms())
    scheduler = AlarmScheduler(store, clock)
    scheduler.start(controller)
    await clock.waited(1)
    clock.advance(0.5)  # not yet due: the scheduler stays idle
    assert len(controller.fires) == 1
    clock.advance(0.5)
    await clock.waited(2)
    await scheduler.stop()
    assert len(controller.fires) == 2
    assert (await store.get_alarm("guest/tick")).next_fire == clock.wall_ms() + SECOND


async def test_a_node_whose_fire_share_is_spent_leaves_the_fire_unclaimed_for_the_others(store):
    clock, spent = FakeClock(), RecordingController(may_fire=False)
    spec = make_spec("alarm", {"cron": "* * * * * *"}, clock.wall_ms())
    await add_alarm(store, spec, clock.wall_ms())
    await one_round(store, clock, spent)
    assert spent.fires == []
    assert (await store.get_alarm("guest/tick")).next_fire == clock.wall_ms()  # still due: not claimed
    another = RecordingController()
    await one_round(store, clock, another)
    assert another.fires == [("guest/a", {})]
