"""Reading the Grafana dashboard's PromQL: its queries, and the metric and label names they use."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "dashboards" / "whisklet.json"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    bare = _GROUPING.sub(" ", _STRING.sub('""', expr))
    bare = re.sub(r"\[[^\]]*\]", " ", _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", bare))
    return {name for name in _IDENTIFIER.findall(bare) if name not in _KEYWORDS}


def label_names(expr: str) -> set[str]:
    """The label names an expression matches on or groups by."""
    labels: set[str] = set()
    for match in _SELECTOR.finditer(_STRING.sub(lambda m: m.group(0).replace("{", "").replace("}", ""), expr)):
        labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
    for match in _GROUPING.finditer(expr):
        labels.update(name.strip() for name in match.group(1).split(",") if name.strip())
    return labels


def for_prometheus(expr: str, rate_interval: str) -> str:
    """The expression as Prometheus' HTTP API takes it: Grafana's `$__rate_interval` replaced."""
    return expr.replace("$__rate_interval", rate_interval)
