import os
import stat

import msgspec
import pytest

from gateway.logfwd.network import EgressPolicy, EgressRefused
from gateway.logfwd.secrets import SecretBox, SecretError
from gateway.logfwd.settings import Destination, InvalidSettings, default_settings, render, settings_from_put
from gateway.wire.logforwarding import LogForwarding
from gateway.wire.models import encoder

decoder = msgspec.json.Decoder(LogForwarding)
POLICY = EgressPolicy()


def put(body: dict) -> object:
    return settings_from_put(decoder.decode(msgspec.json.encode(body)), "guest", 1630075206000, POLICY)


def test_a_namespace_never_configured_reports_adobe_io_runtime_without_a_date():
    assert encoder.encode(render(default_settings("guest"))) == b'{"adobe_io_runtime":{}}'


def test_splunk_settings_arrive_as_strings_and_come_back_without_the_token_with_updated_at():
    settings = put({"splunk_hec": {"host": "splunk.example.com", "port": "8088", "index": "main", "hec_token": "t0k"}})
    assert settings.destination is Destination.SPLUNK_HEC and settings.secret == "t0k"
    assert msgspec.json.decode(encoder.encode(render(settings))) == {"splunk_hec": {
        "host": "splunk.example.com", "port": "8088", "index": "main", "updated_at": "2021-08-27T14:40:06.000+00:00"}}


def test_numbers_are_accepted_as_settings():
    settings = put({"splunk_hec": {"host": "splunk.example.com", "port": 8088, "index": "main", "hec_token": "t"}})
    assert settings.values["port"] == "8088"


@pytest.mark.parametrize("body, says", [
    ({}, "has 0 destinations"),
    ({"adobe_io_runtime": {}, "new_relic": {"base_uri": "https://x.example/log/v1", "license_key": "k"}}, "has 2"),
    ({"new_relic": {"base_uri": "https://log-api.newrelic.com/log/v1"}}, "license_key is required"),
    ({"new_relic": {"base_uri": "https://log-api.newrelic.com/log/v1", "license_key": "  "}}, "license_key is required"),
    ({"new_relic": {"base_uri": "ftp://log-api.newrelic.com/log/v1", "license_key": "k"}}, "scheme"),
    ({"new_relic": {"base_uri": "http://log-api.newrelic.com/log/v1", "license_key": "k"}}, "https"),
    ({"splunk_hec": {"host": "https://splunk.example.com", "port": "8088", "index": "main", "hec_token": "t"}}, "host"),
    ({"splunk_hec": {"host": "splunk.example.com", "port": "99999", "index": "main", "hec_token": "t"}}, "port"),
    ({"splunk_hec": {"host": "splunk.example.com", "port": "8088", "index": "", "hec_token": "t"}}, "index"),
    ({"azure_log_analytics": {"customer_id": "not-a-guid", "log_type": "x", "shared_key": "c2VjcmV0"}}, "customer_id"),
    ({"azure_log_analytics": {"customer_id": "b2c1a3e4-1111-2222-3333-444455556666", "log_type": "a b",
                              "shared_key": "c2VjcmV0"}}, "log_type"),
    ({"azure_log_analytics": {"customer_id": "b2c1a3e4-1111-2222-3333-444455556666", "log_type": "ab",
                              "shared_key": "not base64!"}}, "base64"),
])
def test_invalid_settings_are_refused_with_what_is_expected(body, says):
    with pytest.raises(InvalidSettings, match=says):
        put(body)


def test_unknown_destinations_and_extra_settings_are_refused_when_decoding():
    for body in (b'{"loggly": {}}', b'{"new_relic": {"base_uri": "https://x/log/v1", "license_key": "k", "x": 1}}'):
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(body)


def test_a_secret_sealed_for_one_namespace_opens_only_there_and_never_shows_in_the_sealed_bytes(tmp_path):
    box = SecretBox.from_key_file(tmp_path / "logfwd.key")
    sealed = box.seal("guest", "my-hec-token")
    assert b"my-hec-token" not in sealed
    assert box.open("guest", sealed) == "my-hec-token"
    with pytest.raises(SecretError):
        box.open("other", sealed)
    with pytest.raises(SecretError):
        box.open("guest", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    assert stat.S_IMODE(os.stat(tmp_path / "logfwd.key").st_mode) == 0o600
    assert SecretBox.from_key_file(tmp_path / "logfwd.key").open("guest", sealed) == "my-hec-token"


def test_a_damaged_key_file_stops_with_what_to_do(tmp_path):
    (tmp_path / "logfwd.key").write_bytes(b"short")
    with pytest.raises(SecretError, match="damaged"):
        SecretBox.from_key_file(tmp_path / "logfwd.key")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1", "fe80::1",
    "fd00::1", "::ffff:169.254.169.254", "0.0.0.0", "224.0.0.1",
])
def test_non_public_addresses_are_refused_unless_allowed(address):
    import ipaddress
    with pytest.raises(EgressRefused):
        EgressPolicy().check_address(ipaddress.ip_address(address))
    EgressPolicy.from_settings(False, ["0.0.0.0/0", "::/0"]).check_address(ipaddress.ip_address(address))


async def test_a_name_resolving_to_loopback_is_refused_at_send_time():
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.1|::1"):
        await EgressPolicy().resolve("localhost", 443, 5.0)
    allowed = EgressPolicy.from_settings(True, ["127.0.0.0/8", "::1/128"])
    assert str(await allowed.resolve("localhost", 443, 5.0)) in ("127.0.0.1", "::1")
