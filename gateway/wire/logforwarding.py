"""The shapes of Adobe I/O Runtime's `/runtime/namespaces/{ns}/logForwarding` API (routes-and-log-forwarding.md §11).

One Struct per destination serves both directions: a PUT carries the secret field, a GET leaves it unset
(secrets are omitted, never masked) and sets `updated_at`. Settings arrive as strings from aio (`"8088"`);
numbers are accepted too.
"""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType

Setting = str | int | float


class AdobeIoRuntime(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The default destination: logs stay in Whisklet."""

    updated_at: str | UnsetType = UNSET


class SplunkHec(Struct, forbid_unknown_fields=True, omit_defaults=True):
    host: Setting
    port: Setting
    index: Setting
    hec_token: str | UnsetType = UNSET  # secret
    updated_at: str | UnsetType = UNSET


class NewRelic(Struct, forbid_unknown_fields=True, omit_defaults=True):
    base_uri: Setting
    license_key: str | UnsetType = UNSET  # secret
    updated_at: str | UnsetType = UNSET


class AzureLogAnalytics(Struct, forbid_unknown_fields=True, omit_defaults=True):
    customer_id: Setting
    log_type: Setting
    shared_key: str | UnsetType = UNSET  # secret
    updated_at: str | UnsetType = UNSET


class LogForwarding(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A namespace's configuration: exactly one key set, the active destination (PUT body and GET answer)."""

    adobe_io_runtime: AdobeIoRuntime | UnsetType = UNSET
    azure_log_analytics: AzureLogAnalytics | UnsetType = UNSET
    splunk_hec: SplunkHec | UnsetType = UNSET
    new_relic: NewRelic | UnsetType = UNSET


class LogForwardingErrors(Struct):
    """`GET .../logForwarding/errors`: the newest failures of the current configuration, as plain strings."""

    configured_forwarder: str
    errors: list[str]
