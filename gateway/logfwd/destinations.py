"""Each destination's wire protocol: the HTTP request that carries a batch of log events to it.

Pure functions of the settings and the events; `delivery.py` sends what they build. Formats from
routes-and-log-forwarding.md §13: Splunk HEC events (`time` in seconds), New Relic's detailed Log API
form (`timestamp` in ms), Azure's HTTP Data Collector records signed with SharedKey.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

import msgspec

from gateway.logfwd.events import LogEvent
from gateway.logfwd.settings import ForwardingSettings

_encoder = msgspec.json.Encoder()
AZURE_API_VERSION = "2016-04-01"
AZURE_RETIRED = (
    "azure_log_analytics: Microsoft retired the HTTP Data Collector API on 2026-09-14, so nothing can receive"
    " these logs; they stay in Whisklet (read them with `aio rt activation logs`, or choose another destination)"
)


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """A POST to a destination: where, with which headers (secrets among them) and the exact body bytes."""

    url: str
    headers: Mapping[str, str]
    body: bytes


def event_fields(event: LogEvent) -> dict[str, str]:
    return {
        "activationId": event.activation_id,
        "actionName": event.action_name,
        "namespace": event.namespace,
        "timestamp": event.timestamp,
        "stream": event.stream,
        "message": event.message,
        "status": event.status,
    }


def splunk_request(settings: ForwardingSettings, events: Sequence[LogEvent], *, scheme: str, host_name: str) -> OutboundRequest:
    """Splunk HEC: events concatenated (no array), `Authorization: Splunk <hec_token>`."""
    values = settings.values
    body = b"".join(
        _encoder.encode({
            "time": round(event.time_ns / 1e9, 6),
            "host": host_name,
            "source": event.action_name,
            "sourcetype": "_json",
            "index": values["index"],
            "event": event_fields(event),
        })
        for event in events
    )
    return OutboundRequest(
        f"{scheme}://{values['host']}:{values['port']}/services/collector/event",
        {"Authorization": f"Splunk {settings.secret}", "Content-Type": "application/json"},
        body,
    )


def new_relic_request(settings: ForwardingSettings, events: Sequence[LogEvent]) -> OutboundRequest:
    """New Relic Log API, detailed form: one `common` block for the namespace, `timestamp` in epoch ms."""
    body = _encoder.encode([{
        "common": {"attributes": {"logtype": "openwhisk", "namespace": settings.namespace}},
        "logs": [
            {
                "timestamp": event.time_ns // 1_000_000,
                "message": event.message,
                "attributes": {
                    "activationId": event.activation_id, "actionName": event.action_name,
                    "service.name": event.action_name, "stream": event.stream, "status": event.status,
                },
            }
            for event in events
        ],
    }])
    return OutboundRequest(
        settings.values["base_uri"],
        {"Api-Key": settings.secret, "Content-Type": "application/json"},
        body,
    )


def azure_request(
    settings: ForwardingSettings, events: Sequence[LogEvent], *, now_s: float, url: str = ""
) -> OutboundRequest:
    """Azure HTTP Data Collector: a JSON array of flat records, signed with SharedKey over the body's
    exact length and the `x-ms-date`. `url` replaces Microsoft's endpoint (`logfwd.azure_data_collector_url`)."""
    values = settings.values
    body = _encoder.encode([event_fields(event) for event in events])
    date = formatdate(now_s, usegmt=True)
    signature = azure_signature(settings.secret, date, len(body))
    endpoint = url or f"https://{values['customer_id']}.ods.opinsights.azure.com/api/logs"
    return OutboundRequest(
        f"{endpoint}?api-version={AZURE_API_VERSION}",
        {
            "Authorization": f"SharedKey {values['customer_id']}:{signature}",
            "Content-Type": "application/json",
            "Log-Type": values["log_type"],
            "x-ms-date": date,
            "time-generated-field": "timestamp",
        },
        body,
    )


def azure_signature(shared_key: str, date: str, content_length: int) -> str:
    text = f"POST\n{content_length}\napplication/json\nx-ms-date:{date}\n/api/logs"
    digest = hmac.digest(base64.b64decode(shared_key), text.encode(), hashlib.sha256)
    return base64.b64encode(digest).decode()


def host_of(request: OutboundRequest) -> tuple[str, str, int]:
    """(scheme, host, port) the request goes to."""
    url = urlsplit(request.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.hostname or "", port


