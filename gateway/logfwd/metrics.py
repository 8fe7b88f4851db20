"""The forwarder's Prometheus metrics, read from its counts at scrape time; labels are destination kinds only."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.logfwd.forwarder import ForwardingCounts
from gateway.logfwd.settings import Destination

_FORWARDED = [d.value for d in Destination if d is not Destination.ADOBE_IO_RUNTIME]


class ForwardingCollector(Collector):
    def __init__(self, counts: ForwardingCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        sent = CounterMetricFamily(
            "whisklet_log_forwarding_lines", "Log lines delivered to a log-forwarding destination.",
            labels=["destination"],
        )
        failed = CounterMetricFamily(
            "whisklet_log_forwarding_failed_requests",
            "Requests to a log-forwarding destination that failed for good (after retries); see logForwarding/errors.",
            labels=["destination"],
        )
        for destination in _FORWARDED:
            sent.add_metric([destination], counts.lines_sent[destination])
            failed.add_metric([destination], counts.requests_failed[destination])
        dropped = CounterMetricFamily(
            "whisklet_log_forwarding_dropped_lines",
            "Log lines not forwarded (they stay in the activation record), by destination and reason.",
            labels=["destination", "reason"],
        )
        for (destination, reason), value in sorted(counts.lines_dropped.items()):
            dropped.add_metric([destination, reason], value)
        yield sent
        yield failed
        yield dropped
        yield GaugeMetricFamily(
            "whisklet_log_forwarding_queued_bytes", "Log bytes waiting to be forwarded.", value=counts.queued_bytes
        )
