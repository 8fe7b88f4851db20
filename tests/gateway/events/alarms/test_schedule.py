"""Alarm schedules: what the feeds accept, and when each kind fires next."""

import datetime

import pytest

from gateway.events.alarms.schedule import FeedError, make_spec, next_fire_ms, parse_date, update_spec

NOW = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MINUTE = 60_000


def iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat().replace("+00:00", "Z")


def test_five_field_cron_fires_on_the_next_minute():
    spec = make_spec("alarm", {"cron": "*/1 * * * *"}, NOW)
    assert next_fire_ms(spec, NOW) == NOW + MINUTE
    assert next_fire_ms(spec, NOW + 1) == NOW + MINUTE


def test_six_field_cron_has_seconds_first():
    spec = make_spec("alarm", {"cron": "*/2 * * * * *"}, NOW)
    assert next_fire_ms(spec, NOW) == NOW + 2000
    assert next_fire_ms(spec, NOW + 2000) == NOW + 4000


def test_cron_respects_its_start_and_stop_dates():
    spec = make_spec("alarm", {"cron": "* * * * *", "startDate": iso(NOW + 10 * MINUTE),
                               "stopDate": iso(NOW + 12 * MINUTE)}, NOW)
    assert next_fire_ms(spec, NOW) == NOW + 10 * MINUTE
    assert next_fire_ms(spec, NOW + 11 * MINUTE) == NOW + 12 * MINUTE
    assert next_fire_ms(spec, NOW + 12 * MINUTE) == 0


def test_cron_in_a_time_zone():
    spec = make_spec("alarm", {"cron": "0 9 * * *", "timezone": "Europe/Paris"}, NOW)
    assert next_fire_ms(spec, NOW - 1) == NOW  # 09:00 in Paris is 08:00 UTC in January
    assert next_fire_ms(spec, NOW) == NOW + 24 * 60 * MINUTE


def test_interval_fires_every_period_from_creation_or_from_its_start():
    spec = make_spec("interval", {"minutes": 5}, NOW)
    assert next_fire_ms(spec, NOW) == NOW + 5 * MINUTE
    assert next_fire_ms(spec, NOW + 5 * MINUTE) == NOW + 10 * MINUTE
    started = make_spec("interval", {"minutes": "2", "startDate": NOW + MINUTE}, NOW)
    assert next_fire_ms(started, NOW) == NOW + MINUTE
    assert next_fire_ms(started, NOW + MINUTE) == NOW + 3 * MINUTE


def test_once_fires_at_its_date_and_never_again():
    spec = make_spec("once", {"date": iso(NOW + MINUTE), "deleteAfterFire": "rules"}, NOW)
    assert next_fire_ms(spec, NOW) == NOW + MINUTE
    assert next_fire_ms(spec, NOW + MINUTE) == 0
    assert spec.delete_after_fire == "rules"


@pytest.mark.parametrize(
    ("feed", "params", "message"),
    [
        ("alarm", {}, "alarms trigger feed is missing the cron parameter"),
        ("alarm", {"cron": "61 * * * *"}, "cron pattern '61 * * * *' is not valid"),
        ("alarm", {"cron": "* * *"}, "cron pattern '* * *' is not valid"),
        ("alarm", {"cron": "* * * * *", "timezone": "Mars/Base"}, "timezone parameter 'Mars/Base' is not a valid IANA time zone"),
        ("interval", {}, "interval trigger feed is missing the minutes parameter"),
        ("interval", {"minutes": "x"}, "the minutes parameter must be an integer"),
        ("interval", {"minutes": 0}, "the minutes parameter must be an integer greater than zero"),
        ("once", {}, "alarms once trigger feed is missing the date parameter"),
        ("once", {"date": "tomorrow"}, "date parameter 'tomorrow' is not a valid Date"),
        ("once", {"date": iso(NOW - 1000)}, f"date parameter '{iso(NOW - 1000)}' must be in the future"),
        ("alarm", {"cron": "* * * * *", "startDate": iso(NOW + 2 * MINUTE), "stopDate": iso(NOW + MINUTE)},
         f"stopDate parameter '{iso(NOW + MINUTE)}' must be greater than the startDate parameter {iso(NOW + 2 * MINUTE)}"),
    ],
)
def test_invalid_feed_parameters_are_refused_with_the_upstream_messages(feed, params, message):
    with pytest.raises(FeedError) as refused:
        make_spec(feed, params, NOW)
    assert refused.value.message == message


def test_trigger_payload_may_be_an_object_or_a_json_string():
    assert make_spec("alarm", {"cron": "* * * * *", "trigger_payload": {"a": 1}}, NOW).payload == {"a": 1}
    assert make_spec("alarm", {"cron": "* * * * *", "trigger_payload": '{"a": 1}'}, NOW).payload == {"a": 1}
    assert make_spec("alarm", {"cron": "* * * * *", "trigger_payload": "hi"}, NOW).payload == {"payload": "hi"}


def test_update_changes_only_given_fields_and_needs_one():
    spec = make_spec("alarm", {"cron": "* * * * *", "trigger_payload": {"a": 1}}, NOW)
    updated = update_spec(spec, {"cron": "*/5 * * * *"}, NOW)
    assert (updated.cron, updated.payload) == ("*/5 * * * *", {"a": 1})
    with pytest.raises(FeedError) as refused:
        update_spec(spec, {"minutes": 3}, NOW)
    assert refused.value.message == "no updatable parameters were specified"


def test_dates_are_iso_8601_or_epoch_milliseconds():
    assert parse_date("2027-01-15T08:00:00Z") == NOW
    assert parse_date("2027-01-15T08:00:00") == NOW
    assert parse_date(NOW) == parse_date(str(NOW)) == NOW
    assert parse_date("soon") is None
