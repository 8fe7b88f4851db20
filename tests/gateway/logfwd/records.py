"""Activation records and settings for the log-forwarding tests."""

from __future__ import annotations

from gateway.logfwd.settings import Destination, ForwardingSettings
from gateway.wire.models import ActivationRecord, ActivationResponse, KeyValue

SPLUNK_TOKEN = "11111111-2222-3333-4444-555555555555"
NEW_RELIC_KEY = "eu01xxNRALlicensekey0123456789abcdefNRAL"
AZURE_KEY = "c2VjcmV0LWF6dXJlLXNoYXJlZC1rZXktZm9yLXRlc3RzIQ=="
WORKSPACE = "b2c1a3e4-1111-2222-3333-444455556666"


def record(lines: list[str], activation_id: str = "c7bb" + "0" * 28, namespace: str = "guest") -> ActivationRecord:
    return ActivationRecord(
        namespace=namespace, name="hello", version="0.0.1", subject=namespace, activationId=activation_id,
        start=1717243200000, response=ActivationResponse("success", True, {}), end=1717243200100, duration=100,
        logs=lines, annotations=[KeyValue("path", f"{namespace}/demo/hello"), KeyValue("kind", "nodejs:20")],
    )


def splunk(port: int, namespace: str = "guest", updated_ms: int = 1) -> ForwardingSettings:
    return ForwardingSettings(
        namespace, Destination.SPLUNK_HEC, {"host": "127.0.0.1", "port": str(port), "index": "main"}, SPLUNK_TOKEN,
        updated_ms,
    )


def new_relic(url: str, namespace: str = "guest") -> ForwardingSettings:
    return ForwardingSettings(namespace, Destination.NEW_RELIC, {"base_uri": url}, NEW_RELIC_KEY, 1)


def azure(namespace: str = "guest") -> ForwardingSettings:
    return ForwardingSettings(
        namespace, Destination.AZURE_LOG_ANALYTICS, {"customer_id": WORKSPACE, "log_type": "whisklet"}, AZURE_KEY, 1
    )
