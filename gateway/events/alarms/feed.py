"""The `/whisk.system/alarms` feed actions, run in-process: a trigger's alarm created, read, updated,
paused, resumed and deleted as `wsk trigger create/get/update/delete --feed` ask (openwhisk-api.md §10)."""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable
from typing import Any

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.entities.resolve import QualifiedName, parse_qualified_name
from gateway.events.alarms.schedule import (
    CRON,
    INTERVAL,
    ONCE,
    AlarmSpec,
    FeedError,
    make_spec,
    next_fire_ms,
    spec_decoder,
    update_spec,
)
from gateway.invoke.controller import BuiltinAction
from gateway.store import Alarm, Store, key_matches
from gateway.wire.errors import ApiError
from gateway.wire.models import Identity, encoder
from pool import ActivationStatus

PACKAGE = "whisk.system/alarms"
FEEDS = (CRON, INTERVAL, ONCE)
AUTH_FAILED = "Trigger authentication request failed."



class AlarmFeeds:
    """Runs the alarm feeds' lifecycle events against the store's alarms.

    1. The trigger is named by `triggerName` (`/ns/name`) and the credential by `authKey` (`uuid:key`,
       the invoking identity's when absent); the credential must belong to the trigger's namespace.
    2. CREATE needs the trigger to exist and replaces any alarm it had; DELETE of a missing alarm
       succeeds (so `wsk trigger delete` never gets stuck); READ, UPDATE, PAUSE and UNPAUSE need one.
    3. Every change calls `changed()` so the scheduler looks at the alarms again.
    """

    def __init__(self, store: Store, changed: Callable[[], None], clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._changed = changed
        self._clock = clock

    def actions(self) -> dict[str, BuiltinAction]:
        """The feed actions by fully qualified name, for `Controller(builtins=...)`."""
        return {f"{PACKAGE}/{feed}": functools.partial(self.run, feed) for feed in FEEDS}

    async def run(self, feed: str, identity: Identity, params: dict[str, Any]) -> tuple[ActivationStatus, Any]:
        """One feed invocation: `(success, result)` or `(application error, {"error": message})`."""
        try:
            return ActivationStatus.SUCCESS, await self._lifecycle(feed, identity, params)
        except FeedError as error:
            return ActivationStatus.APPLICATION_ERROR, {"error": error.message}

    async def _lifecycle(self, feed: str, identity: Identity, params: dict[str, Any]) -> dict[str, Any]:
        event = str(params.get("lifecycleEvent", "")).upper()
        trigger = _trigger_name(params.get("triggerName"), identity.namespace)
        await self._check_credential(params.get("authKey"), identity, trigger.namespace)
        key = trigger.fully_qualified_name
        now_ms = self._clock.wall_ms()
        if event == "CREATE":
            if await self._store.get_entity(trigger.path, trigger.name) is None:
                raise FeedError(AUTH_FAILED)
            spec = make_spec(feed, params, now_ms)
            alarm = Alarm(key, trigger.namespace, encoder.encode(spec), True, next_fire_ms(spec, now_ms), now_ms)
            await self._store.put_alarm(alarm)
        elif event == "DELETE":
            await self._store.delete_alarm(key)
        elif event == "READ":
            alarm, spec = await self._alarm(key)
            return _description(trigger, alarm, spec)
        elif event == "UPDATE":
            alarm, spec = await self._alarm(key)
            spec = update_spec(spec, params, now_ms)
            after = max(now_ms, alarm.next_fire - 1) if alarm.next_fire else now_ms
            alarm = dataclasses.replace(alarm, spec=encoder.encode(spec), next_fire=next_fire_ms(spec, after))
            await self._store.put_alarm(alarm)
        elif event in ("PAUSE", "UNPAUSE"):
            alarm, spec = await self._alarm(key)
            active = event == "UNPAUSE"
            if active != alarm.active:
                next_fire = next_fire_ms(spec, now_ms) if active else alarm.next_fire
                alarm = dataclasses.replace(alarm, active=active, next_fire=next_fire, changed=now_ms)
                await self._store.put_alarm(alarm)
        else:
            raise FeedError("unsupported lifecycleEvent")
        self._changed()
        return {"status": "success"}

    async def _check_credential(self, auth_key: Any, identity: Identity, namespace: str) -> None:
        if auth_key is None:
            if identity.namespace != namespace:
                raise FeedError(AUTH_FAILED)
            return
        uuid, _, key = str(auth_key).partition(":")
        subject = await self._store.get_subject_by_uuid(uuid) if uuid and key else None
        if subject is None or not key_matches(subject, key) or subject.namespace != namespace:
            raise FeedError(AUTH_FAILED)

    async def _alarm(self, key: str) -> tuple[Alarm, AlarmSpec]:
        alarm = await self._store.get_alarm(key)
        if alarm is None:
            raise FeedError(f"could not find trigger /{key} in the alarms database")
        return alarm, spec_decoder.decode(alarm.spec)


def _trigger_name(value: Any, namespace: str) -> QualifiedName:
    if not isinstance(value, str) or not value.strip():
        raise FeedError("no trigger name parameter was provided")
    try:
        name = parse_qualified_name(value, namespace)
    except ApiError:
        raise FeedError(f"trigger name parameter '{value}' is not valid") from None
    if name.package is not None:
        raise FeedError(f"trigger name parameter '{value}' is not valid")
    return name


def _description(trigger: QualifiedName, alarm: Alarm, spec: AlarmSpec) -> dict[str, Any]:
    """READ's answer: the alarm's configuration and status, as the upstream alarms feed gives them."""
    config: dict[str, Any] = {"name": trigger.name, "namespace": trigger.namespace, "payload": spec.payload}
    if spec.feed == CRON:
        config["cron"] = spec.cron
        if spec.timezone:
            config["timezone"] = spec.timezone
    elif spec.feed == INTERVAL:
        config["minutes"] = spec.minutes
    else:
        config["date"] = spec.date
        config["deleteAfterFire"] = spec.delete_after_fire
    for field, value in (("startDate", spec.start_date), ("stopDate", spec.stop_date)):
        if value is not None:
            config[field] = value
    changed = datetime.datetime.fromtimestamp(alarm.changed / 1000, datetime.UTC)
    status: dict[str, Any] = {
        "active": alarm.active,
        "dateChanged": alarm.changed,
        "dateChangedISO": changed.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if alarm.active and not alarm.next_fire:
        status["reason"] = {"kind": "AUTO", "statusCode": None, "message": "The alarm will not fire again."}
    return {"config": config, "status": status}

