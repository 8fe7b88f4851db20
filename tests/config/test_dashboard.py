"""The Grafana dashboard queries only what Whisklet exports, through the provisioned datasource."""

from __future__ import annotations

import json
import re

from prometheus_client.parser import text_string_to_metric_families

from gateway.edge.metrics import Metrics
from gateway.invoke.observer import ThrottleReason
from gateway.invoke.records import Ended
from gateway.wire.models import ActivationRecord, ActivationResponse
from pool import ActivationStatus, PoolSnapshot, StockSnapshot
from tests.config.dashboard import DASHBOARD, dashboard_queries, label_names, metric_names

PROVISIONED_DATASOURCE = DASHBOARD.parents[1] / "provisioning" / "datasources" / "whisklet.yaml"


def exported() -> dict[str, set[str]]:
    """Sample names of a real `Metrics` exposition after one event of each kind, with their label names."""
    metrics = Metrics()
    metrics.watch_pool(lambda: PoolSnapshot((StockSnapshot(256, 2, 1, 1, 0, 2, 0.5),), 1, 1, 0.6, True))
    record = ActivationRecord(
        namespace="guest", name="hello", version="0.0.1", subject="guest", activationId="0" * 32, start=1, end=11,
        duration=10, response=ActivationResponse(status="success", success=True),
    )
    metrics.activation_ended(Ended(record, ActivationStatus.SUCCESS, "nodejs:20", 256, wait_ms=1, init_ms=2, cold_start=True))
    metrics.throttled(ThrottleReason.INVOCATIONS_PER_MINUTE)
    metrics.trigger_fired(active_rules=1)
    metrics.container_created(0.5)
    metrics.container_destroyed(0.1)
    metrics.create_failed()
    metrics.request_answered("POST", "/api/v1/namespaces/{ns}/actions/{name}", 200, 0.01)
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def test_every_metric_the_dashboard_queries_is_one_whisklet_exports():
    names = exported()
    queries = dashboard_queries()
    assert len(queries) >= 20
    for title, expr in queries:
        used = metric_names(expr)
        assert used, f"panel {title!r}: no metric in {expr!r}"
        missing = used - names.keys()
        assert not missing, f"panel {title!r} queries {sorted(missing)}, which Whisklet does not export"


def test_every_label_the_dashboard_matches_or_groups_by_exists_on_its_metrics():
    names = exported()
    for title, expr in dashboard_queries():
        labels = set().union(*(names[name] for name in metric_names(expr)))
        unknown = label_names(expr) - labels
        assert not unknown, f"panel {title!r} uses labels {sorted(unknown)} that its metrics do not have"


def test_the_dashboard_shows_what_operators_watch():
    titles = " | ".join(title.lower() for title, _ in dashboard_queries())
    for topic in ("status", "latency", "wait and init", "cold-start", "pool size", "create", "throttled", "http"):
        assert topic in titles, f"no panel about {topic}"


def test_every_panel_uses_the_provisioned_datasource():
    uid = re.search(r"^\s*uid:\s*(\S+)", PROVISIONED_DATASOURCE.read_text(), re.M).group(1)
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"]), panel["title"]
