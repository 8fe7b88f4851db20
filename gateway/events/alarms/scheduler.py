"""The alarm scheduler: a task that fires the triggers of due alarms, from the store's schedules."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.entities.auth import identity_of
from gateway.entities.triggers import unlinked
from gateway.events.alarms.schedule import ONCE, AlarmSpec, next_fire_ms, spec_decoder
from gateway.events.firing import fire_trigger
from gateway.invoke.controller import Controller
from gateway.store import Alarm, Conflict, EntityKind, Store, StoreError
from gateway.wire.errors import ApiError
from gateway.wire.models import encoder, trigger_decoder

log = logging.getLogger("whisklet.alarms")


MAX_SLEEP_S = 60.0  # look again at least this often, whatever the store says
DECLINED_S = 0.25  # look again this soon at an alarm left due because this node's fire share is spent
DUE_BATCH = 100
RETRY_S = 5.0  # after a store failure
MISSED_AFTER_MS = 5_000  # a fire this late was missed while Whisklet was down (or stalled)


class AlarmScheduler:
    """Fires each due alarm's trigger as its namespace, through the fire throttle and the rules.

    1. A fire is claimed in the store (`advance_alarm` moves `next_fire` on) before the trigger is
       fired, so it happens at most once, across restarts, crashes and nodes too. A node whose share
       of the namespace's `firesPerMinute` is spent leaves the fire unclaimed for the other nodes
       (they race for every fire; one node would otherwise win most and be throttled at its share).
    2. The next fire is computed from now: fires missed while Whisklet was down are fired once, at
       start-up, as one catch-up fire, never once per missed occurrence.
    3. An alarm whose trigger is gone is deleted. A `once` alarm stops after its fire and, as its
       `deleteAfterFire` says, deletes the trigger's rules, or them and the trigger.
    4. `start` owns one task; `stop` cancels and awaits it. `wake` makes it look at the store again.
    """

    def __init__(self, store: Store, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._controller: Controller | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self, controller: Controller) -> None:
        self._controller = controller
        self._task = asyncio.create_task(self._run(), name="alarm-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            declined = False
            try:
                for alarm in await self._store.due_alarms(self._clock.wall_ms(), DUE_BATCH):
                    try:
                        declined = not await self._fire(alarm) or declined
                    except StoreError:
                        raise
                    except Exception:
                        log.exception("the alarm of trigger %s failed; it is stopped", alarm.trigger)
                        await self._store.advance_alarm(alarm.trigger, alarm.next_fire, 0)
                soonest = await self._store.next_alarm_fire()
            except StoreError as error:
                log.error("%s; retrying in %.0fs", error, RETRY_S)
                soonest = self._clock.wall_ms() + int(RETRY_S * 1000)
            delay_s = MAX_SLEEP_S if soonest is None else (soonest - self._clock.wall_ms()) / 1000
            if declined:  # left due for other nodes: look again soon, not at once
                delay_s = max(delay_s, DECLINED_S)
            if delay_s > 0:
                await self._clock.wait(self._wake, min(delay_s, MAX_SLEEP_S))

    async def _fire(self, alarm: Alarm) -> bool:
        """Claim and fire `alarm`; False when it is left unclaimed: this node's share of its namespace's
        `firesPerMinute` is spent, and another node, or this one next minute, may fire it."""
        assert self._controller is not None
        now_ms = self._clock.wall_ms()
        namespace, _, name = alarm.trigger.partition("/")
        subject = await self._store.get_subject(namespace)
        if subject is not None and not self._controller.may_fire(identity_of(subject, "")):
            return False
        spec = spec_decoder.decode(alarm.spec)
        following = next_fire_ms(spec, max(now_ms, alarm.next_fire))
        if not await self._store.advance_alarm(alarm.trigger, alarm.next_fire, following):
            return True  # changed or deleted meanwhile: the next round sees the new state
        if now_ms - alarm.next_fire > MISSED_AFTER_MS:
            log.warning("trigger %s missed its fire at %d ms; firing it once now", alarm.trigger, alarm.next_fire)
        fired = await self._fire_trigger(namespace, name, spec)
        if not fired:
            await self._store.delete_alarm(alarm.trigger)
        elif spec.feed == ONCE and spec.delete_after_fire != "false":
            await self._delete_after_fire(namespace, name, with_trigger=spec.delete_after_fire == "true")
        return True

    async def _fire_trigger(self, namespace: str, name: str, spec: AlarmSpec) -> bool:
        """Fire the trigger as its namespace; False when the namespace or the trigger is gone."""
        assert self._controller is not None
        subject = await self._store.get_subject(namespace)
        entity = await self._store.get_entity(namespace, name)
        if subject is None or entity is None or entity.kind != EntityKind.TRIGGER:
            log.warning("trigger %s/%s no longer exists; its alarm is deleted", namespace, name)
            return False
        identity = identity_of(subject, "")
        try:
            self._controller.admit_fire(identity)
            trigger = trigger_decoder.decode(entity.doc)
            activation_id = await fire_trigger(
                self._store, self._controller, self._clock, identity, trigger, dict(spec.payload), {}
            )
        except ApiError as error:
            log.warning("firing trigger %s/%s failed: %s", namespace, name, error.message)
        else:
            log.info("fired trigger %s/%s (activation %s)", namespace, name, activation_id or "none: no active rule")
        return True

    async def _delete_after_fire(self, namespace: str, name: str, *, with_trigger: bool) -> None:
        entity = await self._store.get_entity(namespace, name)
        if entity is None or entity.kind != EntityKind.TRIGGER:
            return
        trigger = trigger_decoder.decode(entity.doc)
        rules = trigger.rules if trigger.rules is not msgspec.UNSET else {}
        for key in rules:
            rule_namespace, _, rule_name = key.partition("/")
            await self._store.delete_entity(rule_namespace, rule_name)
            trigger = unlinked(trigger, key)
        if with_trigger:
            await self._store.delete_entity(namespace, name)
            await self._store.delete_alarm(f"{namespace}/{name}")
        else:
            try:
                await self._store.put_entity(
                    EntityKind.TRIGGER, namespace, name, encoder.encode(trigger), trigger.updated, entity.revision
                )
            except Conflict:  # any other StoreError goes to `_run`, which logs it and looks again later
                log.warning("trigger %s/%s changed while its rules were deleted after its fire; it still lists them",
                            namespace, name)
