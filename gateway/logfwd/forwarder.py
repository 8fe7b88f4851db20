"""The log forwarder: each finished activation's log lines queued, batched and sent to its namespace's destination.

Nothing here runs on the activation's path but `activation_ended`, which only appends the record to a
bounded intake. A dispatcher task turns records into events and hands them to the namespace's outbox; one
sender task per outbox batches, sends and retries. Logs always stay in the activation record as well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import msgspec

from gateway.config import LogForwardingConfig
from gateway.invoke.observer import GatewayObserver
from gateway.invoke.records import Ended
from gateway.logfwd.delivery import Delivery, deliver
from gateway.logfwd.destinations import AZURE_RETIRED, OutboundRequest, azure_request, new_relic_request, splunk_request
from gateway.logfwd.events import LogEvent, activation_events
from gateway.logfwd.network import EgressPolicy
from gateway.logfwd.secrets import SecretBox, SecretError
from gateway.logfwd.settings import Destination, ForwardingSettings, default_settings
from gateway.store import LogForwardingRow, Store, StoreError
from gateway.wire.models import ActivationRecord

log = logging.getLogger("whisklet.logfwd")

MAX_ERRORS = 10
ERRORS_KEPT_MS = 30 * 86_400_000
INTAKE_MAX_RECORDS = 10_000
MAX_BACKOFF_S = 30.0
_values_decoder = msgspec.json.Decoder(dict[str, str])


@dataclass
class ForwardingCounts:
    """What the forwarder did, by destination, read by the metrics collector at scrape time."""

    lines_sent: Counter[str] = field(default_factory=Counter)
    lines_dropped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (destination, reason)
    requests_failed: Counter[str] = field(default_factory=Counter)
    queued_bytes: int = 0


class _Outbox:
    """One namespace's events waiting to be sent, bounded in bytes; each event keeps the settings it was
    queued under, so a configuration change never sends old lines with new credentials or the reverse."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: deque[tuple[ForwardingSettings, LogEvent]] = deque()
        self.bytes = 0
        self.ready = asyncio.Event()

    def offer(self, settings: ForwardingSettings, events: list[LogEvent]) -> int:
        """Queue what fits; return how many events were dropped because the outbox is full."""
        for taken, event in enumerate(events):
            if self.bytes + event.size > self.max_bytes:
                return len(events) - taken
            self.items.append((settings, event))
            self.bytes += event.size
            self.ready.set()
        return 0

    def take(self, max_events: int, max_bytes: int) -> tuple[ForwardingSettings, list[LogEvent]]:
        settings = self.items[0][0]
        batch: list[LogEvent] = []
        size = 0
        while self.items and len(batch) < max_events and self.items[0][0] is settings:
            event = self.items[0][1]
            if batch and size + event.size > max_bytes:
                break
            self.items.popleft()
            self.bytes -= event.size
            size += event.size
            batch.append(event)
        if not self.items:
            self.ready.clear()
        return settings, batch


class LogForwarder(GatewayObserver):
    """Namespaces' destinations (read and written through the store) and the delivery of their logs.

    1. `activation_ended` is O(1) and never awaits: a full intake drops the record's lines (counted).
    2. Every queue is bounded: the intake by records and bytes, each namespace's outbox by bytes.
    3. A request is retried on 429, 5xx and transport errors with exponential backoff, `retries` times;
       then its lines are dropped, counted, and the failure joins the namespace's errors (newest 10,
       30 days, reset by a new configuration). No error text ever holds a secret.
    4. Background tasks (the dispatcher, one sender per namespace) are kept and awaited by `close`.
    """

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        policy: EgressPolicy,
        config: LogForwardingConfig,
        client: httpx.AsyncClient,
        *,
        host_name: str,
        now_ms: Callable[[], int],
    ) -> None:
        self._store = store
        self._box = box
        self.policy = policy
        self._config = config
        self._client = client
        self._host_name = host_name
        self.now_ms = now_ms
        self.counts = ForwardingCounts()
        self._intake: deque[ActivationRecord] = deque()
        self._intake_bytes = 0
        self._intake_ready = asyncio.Event()
        self._outboxes: dict[str, _Outbox] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._opened: dict[str, ForwardingSettings] = {}  # decrypted settings by namespace
        self._errors: dict[str, deque[tuple[int, str]]] = {}
        self._retired_reported: set[tuple[str, int]] = set()

    # configuration

    async def settings(self, namespace: str) -> ForwardingSettings:
        """The namespace's destination (the default when never set). `StoreError` if it cannot be read."""
        row = await self._store.get_log_forwarding(namespace)
        if row is None:
            return default_settings(namespace)
        known = self._opened.get(namespace)
        if known is not None and known.updated_ms == row.updated:
            return known
        secret = self._box.open(namespace, row.secret) if row.secret else ""
        settings = ForwardingSettings(
            namespace, Destination(row.destination), _values_decoder.decode(row.settings), secret, row.updated
        )
        self._opened[namespace] = settings
        return settings

    async def configure(self, settings: ForwardingSettings) -> None:
        """Store the namespace's new destination (its secret sealed) and start over its error list."""
        sealed = self._box.seal(settings.namespace, settings.secret) if settings.secret else b""
        values = msgspec.json.encode(dict(settings.values))
        row = LogForwardingRow(settings.namespace, settings.destination.value, values, sealed, settings.updated_ms)
        await self._store.put_log_forwarding(row)
        self._opened[settings.namespace] = settings
        self._errors.pop(settings.namespace, None)

    def errors(self, namespace: str) -> list[str]:
        """The newest failures of the current configuration, newest last, none older than 30 days."""
        oldest = self.now_ms() - ERRORS_KEPT_MS
        return [text for when, text in self._errors.get(namespace, ()) if when >= oldest]

    # the activation's path

    def activation_ended(self, ended: Ended) -> None:
        record = ended.record
        if not record.logs or self._dispatcher is None or _is_sequence(record):
            return
        size = sum(len(line) for line in record.logs)
        if len(self._intake) >= INTAKE_MAX_RECORDS or self._intake_bytes + size > self._config.queue_max_bytes:
            self.counts.lines_dropped["unknown", "queue_full"] += len(record.logs)
            return
        self._intake.append(record)
        self._intake_bytes += size
        self._intake_ready.set()

    # background work

    def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="logfwd-dispatcher")

    async def close(self) -> None:
        """Stop the dispatcher and every sender; lines still queued are not sent (they stay in the records)."""
        tasks = [task for task in (self._dispatcher, *self._senders.values()) if task is not None]
        self._dispatcher = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._senders.clear()

    async def _dispatch_forever(self) -> None:
        while True:
            await self._intake_ready.wait()
            record = self._intake.popleft()
            self._intake_bytes -= sum(len(line) for line in record.logs)
            if not self._intake:
                self._intake_ready.clear()
            try:
                await self._dispatch(record)
            except (StoreError, SecretError) as error:
                self.counts.lines_dropped["unknown", "unreadable_settings"] += len(record.logs)
                log.warning("log forwarding of activation %s skipped: %s", record.activationId, error)
            self._count_queued()

    async def _dispatch(self, record: ActivationRecord) -> None:
        settings = await self.settings(record.namespace)
        if not settings.forwards:
            return
        destination = settings.destination.value
        if settings.destination is Destination.AZURE_LOG_ANALYTICS and not self._config.azure_data_collector_url:
            self.counts.lines_dropped[destination, "destination_retired"] += len(record.logs)
            if (settings.namespace, settings.updated_ms) not in self._retired_reported:
                self._retired_reported.add((settings.namespace, settings.updated_ms))
                self._note_error(settings, AZURE_RETIRED)
            return
        events: list[LogEvent] = []
        for start in range(0, len(record.logs), 1000):  # a record's lines may be many: let others run
            events.extend(activation_events(record, start, start + 1000))
            await asyncio.sleep(0)
        dropped = self._outbox(settings.namespace).offer(settings, events)
        if dropped:
            self.counts.lines_dropped[destination, "queue_full"] += dropped

    def _count_queued(self) -> None:
        self.counts.queued_bytes = self._intake_bytes + sum(box.bytes for box in self._outboxes.values())

    def _outbox(self, namespace: str) -> _Outbox:
        outbox = self._outboxes.get(namespace)
        if outbox is None:
            outbox = self._outboxes[namespace] = _Outbox(self._config.queue_max_bytes)
            self._senders[namespace] = asyncio.create_task(self._send_forever(outbox), name=f"logfwd-{namespace}")
        return outbox

    async def _send_forever(self, outbox: _Outbox) -> None:
        config = self._config
        while True:
            await outbox.ready.wait()
            if outbox.bytes < config.batch_max_bytes and len(outbox.items) < config.batch_max_events:
                await asyncio.sleep(config.batch_wait_ms / 1000)  # the batching window: let more lines join
            settings, batch = outbox.take(config.batch_max_events, config.batch_max_bytes)
            self._count_queued()
            for request, count in self._requests(settings, batch):
                await self._send(settings, request, count)

    def _requests(self, settings: ForwardingSettings, batch: list[LogEvent]) -> list[tuple[OutboundRequest, int]]:
        """The batch's request, split in halves while its body is over `batch_max_bytes`."""
        request = self._request(settings, batch)
        if len(request.body) <= self._config.batch_max_bytes or len(batch) == 1:
            return [(request, len(batch))]
        half = len(batch) // 2
        return [*self._requests(settings, batch[:half]), *self._requests(settings, batch[half:])]

    def _request(self, settings: ForwardingSettings, batch: list[LogEvent]) -> OutboundRequest:
        match settings.destination:
            case Destination.SPLUNK_HEC:
                scheme = "http" if self.policy.allow_http else "https"
                return splunk_request(settings, batch, scheme=scheme, host_name=self._host_name)
            case Destination.NEW_RELIC:
                return new_relic_request(settings, batch)
            case _:
                url = self._config.azure_data_collector_url
                return azure_request(settings, batch, now_s=self.now_ms() / 1000, url=url)

    async def _send(self, settings: ForwardingSettings, request: OutboundRequest, count: int) -> None:
        destination = settings.destination.value
        delay_s = self._config.retry_base_ms / 1000
        for attempt in range(self._config.retries + 1):
            outcome: Delivery = await deliver(self._client, self.policy, request, self._config.request_timeout_s)
            if outcome.ok:
                self.counts.lines_sent[destination] += count
                return
            if not outcome.retry or attempt == self._config.retries:
                break
            await asyncio.sleep(min(delay_s * 2**attempt, MAX_BACKOFF_S))
        self.counts.requests_failed[destination] += 1
        self.counts.lines_dropped[destination, "undelivered"] += count
        text = f"{outcome.text} ({count} log lines dropped after {attempt + 1} attempts)"
        self._note_error(settings, text)

    def _note_error(self, settings: ForwardingSettings, text: str) -> None:
        if settings.secret:
            text = text.replace(settings.secret, "[secret]")
        now_ms = self.now_ms()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms // 1000))
        line = f"{stamp} {settings.destination.value}: {text}"
        current = self._opened.get(settings.namespace)
        if current is not None and current.updated_ms != settings.updated_ms:
            return  # an error of a configuration replaced meanwhile belongs to no list
        self._errors.setdefault(settings.namespace, deque(maxlen=MAX_ERRORS)).append((now_ms, line))
        log.warning("log forwarding of namespace %s failed: %s", settings.namespace, line)




def _is_sequence(record: ActivationRecord) -> bool:
    """A sequence's record lists its components' activation ids as `logs`; their own lines are forwarded
    as each component ends."""
    return any(note.key == "kind" and note.value == "sequence" for note in record.annotations)
