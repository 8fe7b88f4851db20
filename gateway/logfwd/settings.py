"""A namespace's log-forwarding settings: validated from a PUT, rendered for a GET without its secret."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from msgspec import UNSET, Struct, UnsetType

from gateway.logfwd.network import EgressPolicy, EgressRefused
from gateway.wire.logforwarding import (
    AdobeIoRuntime,
    AzureLogAnalytics,
    LogForwarding,
    NewRelic,
    Setting,
    SplunkHec,
)

MAX_SETTING_CHARS = 1024
MAX_SECRET_CHARS = 4096


class Destination(StrEnum):
    """Where a namespace's activation logs go; the values are Adobe's keys."""

    ADOBE_IO_RUNTIME = "adobe_io_runtime"
    AZURE_LOG_ANALYTICS = "azure_log_analytics"
    SPLUNK_HEC = "splunk_hec"
    NEW_RELIC = "new_relic"


SECRET_FIELD = {
    Destination.AZURE_LOG_ANALYTICS: "shared_key",
    Destination.SPLUNK_HEC: "hec_token",
    Destination.NEW_RELIC: "license_key",
}


class InvalidSettings(Exception):
    """A PUT's settings are refused; the message names the setting and what is expected."""


@dataclass(frozen=True, slots=True)
class ForwardingSettings:
    """One namespace's destination. `values` are its non-secret settings as strings; `secret` is in clear
    only in memory (the store keeps it sealed); `updated_ms` is 0 for the never-set default."""

    namespace: str
    destination: Destination
    values: Mapping[str, str] = field(default_factory=dict)
    secret: str = ""
    updated_ms: int = 0

    @property
    def forwards(self) -> bool:
        return self.destination is not Destination.ADOBE_IO_RUNTIME


def default_settings(namespace: str) -> ForwardingSettings:
    return ForwardingSettings(namespace, Destination.ADOBE_IO_RUNTIME)


def settings_from_put(body: LogForwarding, namespace: str, now_ms: int, policy: EgressPolicy) -> ForwardingSettings:
    """The settings a PUT body asks for; `InvalidSettings` unless it names exactly one destination with
    every setting present, non-empty and well-formed."""
    chosen = [(name, value) for name, value in _destinations(body).items() if isinstance(value, Struct)]
    if len(chosen) != 1:
        raise InvalidSettings(
            f"Configuration has {len(chosen)} destinations. Exactly one must be defined: one of "
            + ", ".join(Destination)
        )
    name, given = chosen[0]
    destination = Destination(name)
    if isinstance(given, AdobeIoRuntime):
        return ForwardingSettings(namespace, destination, {}, "", now_ms)
    secret_field = SECRET_FIELD[destination]
    values = {
        key: _text(f"{name}.{key}", getattr(given, key))
        for key in given.__struct_fields__
        if key not in (secret_field, "updated_at")
    }
    secret = getattr(given, secret_field)
    if secret is UNSET or not secret.strip():
        raise InvalidSettings(f"{name}.{secret_field} is required and may not be empty")
    if len(secret) > MAX_SECRET_CHARS:
        raise InvalidSettings(f"{name}.{secret_field} is longer than {MAX_SECRET_CHARS} characters")
    settings = ForwardingSettings(namespace, destination, values, secret.strip(), now_ms)
    _check(settings, policy)
    return settings


def render(settings: ForwardingSettings) -> LogForwarding:
    """The GET shape: the one destination, its non-secret settings and `updated_at`; never the secret."""
    updated = iso_ms(settings.updated_ms) if settings.updated_ms else UNSET
    values = settings.values
    match settings.destination:
        case Destination.ADOBE_IO_RUNTIME:
            return LogForwarding(adobe_io_runtime=AdobeIoRuntime(updated_at=updated))
        case Destination.SPLUNK_HEC:
            return LogForwarding(splunk_hec=SplunkHec(
                host=values["host"], port=values["port"], index=values["index"], updated_at=updated))
        case Destination.NEW_RELIC:
            return LogForwarding(new_relic=NewRelic(base_uri=values["base_uri"], updated_at=updated))
        case Destination.AZURE_LOG_ANALYTICS:
            return LogForwarding(azure_log_analytics=AzureLogAnalytics(
                customer_id=values["customer_id"], log_type=values["log_type"], updated_at=updated))


def iso_ms(epoch_ms: int) -> str:
    """`2021-08-27T14:40:06.000+00:00`, as Adobe's fixtures write `updated_at`."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+00:00"


def _destinations(body: LogForwarding) -> dict[str, Struct | UnsetType]:
    return {name: getattr(body, name) for name in body.__struct_fields__}


def _text(name: str, value: Setting) -> str:
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidSettings(f"{name} must be a string or a whole number")
        value = int(value)
    text = str(value).strip()
    if not text:
        raise InvalidSettings(f"{name} is required and may not be empty")
    if len(text) > MAX_SETTING_CHARS:
        raise InvalidSettings(f"{name} is longer than {MAX_SETTING_CHARS} characters")
    return text


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_SPLUNK_INDEX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_WORKSPACE_ID = re.compile(r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}")
_LOG_TYPE = re.compile(r"[A-Za-z0-9_]{1,100}")


def _check(settings: ForwardingSettings, policy: EgressPolicy) -> None:
    values = settings.values
    try:
        match settings.destination:
            case Destination.SPLUNK_HEC:
                if not _HOST.fullmatch(values["host"]):
                    raise InvalidSettings("splunk_hec.host must be a host name or address, without scheme or path")
                if not values["port"].isdigit() or not 0 < int(values["port"]) < 65536:
                    raise InvalidSettings("splunk_hec.port must be a port number (Splunk's HEC default is 8088)")
                if not _SPLUNK_INDEX.fullmatch(values["index"]):
                    raise InvalidSettings("splunk_hec.index must be a Splunk index name (letters, digits, _ and -)")
                policy.check_host(values["host"].strip("[]"))
            case Destination.NEW_RELIC:
                url = urlsplit(values["base_uri"])
                if not url.hostname or url.username or url.password or url.fragment:
                    raise InvalidSettings(
                        "new_relic.base_uri must be a URL such as https://log-api.newrelic.com/log/v1")
                _ = url.port  # ValueError when out of range
                policy.check_scheme(url.scheme)
                policy.check_host(url.hostname)
            case Destination.AZURE_LOG_ANALYTICS:
                if not _WORKSPACE_ID.fullmatch(values["customer_id"]):
                    raise InvalidSettings("azure_log_analytics.customer_id must be the workspace id (a GUID)")
                if not _LOG_TYPE.fullmatch(values["log_type"]):
                    raise InvalidSettings(
                        "azure_log_analytics.log_type must be letters, digits and _ only, at most 100")
                base64.b64decode(settings.secret, validate=True)
    except EgressRefused as refused:
        raise InvalidSettings(f"{settings.destination}: {refused}") from None
    except binascii.Error:
        raise InvalidSettings("azure_log_analytics.shared_key must be the workspace's base64 key") from None
    except ValueError as error:
        raise InvalidSettings(f"new_relic.base_uri: {error}") from None
