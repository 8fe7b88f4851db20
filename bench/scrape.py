"""Scraping Whisklet's `/metrics` once a second while a benchmark runs, into rows of the figures it reports."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

COLUMNS = (
    "t", "prewarmed", "leased", "creating", "destroying", "target", "arrivals_per_s", "waiting",
    "create_estimate_s", "activations", "succeeded", "failed", "cold_starts", "containers_created",
    "create_failures", "throttled", "cpu_s", "rss_mb",
)


def figures(text: str) -> dict[str, float]:
    """The figures of one scrape: pool gauges as they are, counters as totals over every label."""
    row = dict.fromkeys(COLUMNS[1:], 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "whisklet_pool_containers":
                row[labels["state"]] = value
            elif name == "whisklet_pool_target_containers":
                row["target"] = value
            elif name == "whisklet_pool_arrivals_per_second":
                row["arrivals_per_s"] = value
            elif name == "whisklet_pool_waiting_activations":
                row["waiting"] = value
            elif name == "whisklet_pool_create_estimate_seconds":
                row["create_estimate_s"] = value
            elif name == "whisklet_activations_total":
                row["activations"] += value
                row["succeeded" if labels["status"] == "success" else "failed"] += value
            elif name == "whisklet_cold_starts_total":
                row["cold_starts"] = value
            elif name == "whisklet_container_create_seconds_count":
                row["containers_created"] = value
            elif name == "whisklet_container_create_failures_total":
                row["create_failures"] = value
            elif name == "whisklet_throttled_requests_total":
                row["throttled"] += value
            elif name == "process_cpu_seconds_total":
                row["cpu_s"] = value
            elif name == "process_resident_memory_bytes":
                row["rss_mb"] = value / 2**20
    return row


class Scraper:
    """Scrapes `url` every `interval_s` in a thread of its own until stopped; keeps every row."""

    def __init__(self, url: str, interval_s: float = 1.0) -> None:
        self.url = url
        self.interval_s = interval_s
        self.rows: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-scraper", daemon=True)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                began = time.time()
                try:
                    response = client.get(self.url)
                    if response.status_code == 200:  # an overloaded server's 503 text is no metrics
                        self.rows.append({"t": began, **figures(response.text)})
                except (httpx.HTTPError, ValueError):
                    pass  # a missed scrape leaves a gap; the server may be busy or stopping
                self._stop.wait(max(0.0, self.interval_s - (time.time() - began)))

    def write(self, path: Path) -> None:
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
