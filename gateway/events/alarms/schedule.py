"""Alarm schedules: what the `/whisk.system/alarms` feeds accept, and when a schedule fires next. Pure."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from croniter import croniter

from gateway.wire.jsonbody import any_decoder

CRON = "alarm"
INTERVAL = "interval"
ONCE = "once"
DELETE_AFTER_FIRE = ("false", "rules", "true")  # keep all / delete the trigger's rules / rules and trigger


class FeedError(Exception):
    """A feed request that cannot be honoured; the message is the feed action's `error`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlarmSpec(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """One trigger's alarm, as stored. Times are epoch ms; 0 means not set.

    `feed` is `alarm` (a `cron` expression, 5 fields, or 6 with seconds first, in `timezone`),
    `interval` (every `minutes`) or `once` (at `date`). `start_ms`/`stop_ms` bound cron and interval
    alarms; `payload` is what each fire sends.
    """

    feed: str
    cron: str = ""
    timezone: str = ""
    minutes: int = 0
    date: Any = None  # as given, for READ
    date_ms: int = 0
    start_date: Any = None
    start_ms: int = 0
    stop_date: Any = None
    stop_ms: int = 0
    payload: dict[str, Any] = {}
    delete_after_fire: str = "false"
    created_ms: int = 0


spec_decoder = msgspec.json.Decoder(AlarmSpec)

UPDATABLE = {
    CRON: ("cron", "timezone", "trigger_payload", "startDate", "stopDate"),
    INTERVAL: ("minutes", "trigger_payload", "startDate", "stopDate"),
    ONCE: ("date", "trigger_payload", "deleteAfterFire"),
}


def make_spec(feed: str, params: dict[str, Any], now_ms: int) -> AlarmSpec:
    """The alarm a CREATE asks for, with the upstream feed's validation messages."""
    spec = AlarmSpec(feed=feed, created_ms=now_ms)
    return _apply(spec, params, now_ms, creating=True)


def update_spec(spec: AlarmSpec, params: dict[str, Any], now_ms: int) -> AlarmSpec:
    """`spec` with the updatable parameters given in an UPDATE replaced."""
    if not any(params.get(key) is not None for key in UPDATABLE[spec.feed]):
        raise FeedError("no updatable parameters were specified")
    return _apply(spec, params, now_ms, creating=False)


def _apply(spec: AlarmSpec, params: dict[str, Any], now_ms: int, *, creating: bool) -> AlarmSpec:
    changes: dict[str, Any] = {}

    def given(key: str) -> bool:
        return params.get(key) is not None and params.get(key) != ""

    if spec.feed == CRON:
        if creating and not given("cron"):
            raise FeedError("alarms trigger feed is missing the cron parameter")
        if given("timezone"):
            changes["timezone"] = _timezone(params["timezone"])
        if given("cron"):
            changes["cron"] = _cron(params["cron"])
    elif spec.feed == INTERVAL:
        if creating and not given("minutes"):
            raise FeedError("interval trigger feed is missing the minutes parameter")
        if given("minutes"):
            changes["minutes"] = _minutes(params["minutes"])
    elif spec.feed == ONCE:
        if creating and not given("date"):
            raise FeedError("alarms once trigger feed is missing the date parameter")
        if given("date"):
            changes["date"], changes["date_ms"] = params["date"], _future_date(params["date"], "date", now_ms)
        if given("deleteAfterFire"):
            value = str(params["deleteAfterFire"]).lower()
            if value not in DELETE_AFTER_FIRE:
                raise FeedError("deleteAfterFire parameter must be one of 'false', 'rules' or 'true'")
            changes["delete_after_fire"] = value
    if spec.feed != ONCE:
        if given("startDate"):
            changes["start_date"] = params["startDate"]
            changes["start_ms"] = _future_date(params["startDate"], "startDate", now_ms)
        if given("stopDate"):
            start_ms = changes.get("start_ms", spec.start_ms)
            stop_ms = _future_date(params["stopDate"], "stopDate", now_ms)
            if start_ms and stop_ms <= start_ms:
                start = changes.get("start_date", spec.start_date)
                stop = params["stopDate"]
                raise FeedError(f"stopDate parameter '{stop}' must be greater than the startDate parameter {start}")
            changes["stop_date"], changes["stop_ms"] = params["stopDate"], stop_ms
    if given("trigger_payload"):
        changes["payload"] = _payload(params["trigger_payload"])
    return msgspec.structs.replace(spec, **changes)


def next_fire_ms(spec: AlarmSpec, after_ms: int) -> int:
    """The first time strictly after `after_ms` the alarm fires; 0 when it never fires again."""
    if spec.feed == ONCE:
        return spec.date_ms if spec.date_ms > after_ms else 0
    if spec.feed == INTERVAL:
        period_ms = spec.minutes * 60_000
        origin = spec.start_ms or spec.created_ms + period_ms  # without a start: a period after creation
        if after_ms < origin:
            fire = origin
        else:
            fire = origin + ((after_ms - origin) // period_ms + 1) * period_ms
    else:
        after = max(after_ms, spec.start_ms - 1)
        zone = ZoneInfo(spec.timezone) if spec.timezone else datetime.UTC
        start = datetime.datetime.fromtimestamp(after / 1000, zone)
        fire = int(croniter(spec.cron, start, second_at_beginning=True).get_next(float) * 1000)
    return 0 if spec.stop_ms and fire > spec.stop_ms else fire


def _cron(expression: Any) -> str:
    text = str(expression).strip()
    if len(text.split()) not in (5, 6) or not croniter.is_valid(text, second_at_beginning=True):
        raise FeedError(f"cron pattern '{expression}' is not valid")
    return text


def _timezone(name: Any) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise FeedError(f"timezone parameter '{name}' is not a valid IANA time zone") from None
    return str(name)


def _minutes(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit():
        raise FeedError("the minutes parameter must be an integer")
    minutes = int(text)
    if minutes <= 0:
        raise FeedError("the minutes parameter must be an integer greater than zero")
    return minutes


def _future_date(value: Any, name: str, now_ms: int) -> int:
    """An ISO 8601 date (UTC unless it says otherwise) or epoch milliseconds, later than now."""
    when = parse_date(value)
    if when is None:
        raise FeedError(f"{name} parameter '{value}' is not a valid Date")
    if when <= now_ms:
        raise FeedError(f"{name} parameter '{value}' must be in the future")
    return when


def parse_date(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp() * 1000)


def _payload(value: Any) -> dict[str, Any]:
    """`trigger_payload`: an object, or a string holding one; any other value is sent as `{"payload": value}`."""
    if isinstance(value, str):
        try:
            value = any_decoder.decode(value)
        except msgspec.DecodeError:
            pass
    return value if isinstance(value, dict) else {"payload": value}
