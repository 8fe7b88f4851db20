"""The live view's reading of `/metrics` (gateway/console/assets/js/metrics.js), run in Node.js on the real exposition."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from gateway.console.files import ASSETS_DIR
from gateway.edge.metrics import Metrics

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def run_metrics_js(expression: str, **inputs: Any) -> Any:
    """`expression` evaluated with metrics.js's exports in scope and `inputs` as globals; its JSON value."""
    module = (ASSETS_DIR / "js" / "metrics.js").as_uri()
    script = (
        f"import * as m from {json.dumps(module)};\n"
        f"const inputs = {json.dumps(inputs)};\n"
        f"const result = ((m, inputs) => {expression})(m, inputs);\n"
        "process.stdout.write(JSON.stringify(result));\n"
    )
    assert NODE is not None
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def exposition(observe_s: list[float]) -> str:
    metrics = Metrics()
    for seconds in observe_s:
        metrics.warm_duration.observe(seconds)
    metrics.activations.labels("nodejs:20", "success").inc(3)
    metrics.activations.labels("nodejs:18", "success").inc(2)
    metrics.activations.labels("nodejs:20", "application_error").inc()
    return metrics.exposition().decode()


def test_activations_are_summed_over_kinds_by_status() -> None:
    sums = run_metrics_js("m.sumBy(m.parseExposition(inputs.text), 'whisklet_activations_total', 'status')",
                          text=exposition([]))
    assert sums == {"success": 5, "application_error": 1}


def test_percentiles_cover_only_what_was_observed_between_two_scrapes() -> None:
    before = exposition([5.0] * 50)  # slow activations before the interval must not count
    after = exposition([5.0] * 50 + [0.02] * 9 + [0.2])
    quantiles = run_metrics_js(
        "[0.5, 0.9, 1].map(q => m.quantileBetween("
        "m.buckets(m.parseExposition(inputs.before), 'whisklet_activation_warm_duration_seconds'),"
        "m.buckets(m.parseExposition(inputs.after), 'whisklet_activation_warm_duration_seconds'), q))",
        before=before, after=after,
    )
    p50, p90, p100 = quantiles
    assert 0.01 < p50 <= 0.025  # in the (10 ms, 25 ms] bucket, as Prometheus' histogram_quantile interpolates
    assert 0.01 < p90 <= 0.025
    assert 0.1 < p100 <= 0.25


def test_no_observation_between_scrapes_is_no_percentile_not_zero() -> None:
    text = exposition([0.02])
    assert run_metrics_js(
        "m.quantileBetween(m.buckets(m.parseExposition(inputs.text), 'whisklet_activation_warm_duration_seconds'),"
        " m.buckets(m.parseExposition(inputs.text), 'whisklet_activation_warm_duration_seconds'), 0.5)",
        text=text,
    ) is None


def test_a_label_value_with_escapes_and_spaces_is_read_whole() -> None:
    text = 'whisklet_http_requests_total{method="GET",route="/a \\"b\\", c",code="200"} 7\n'
    samples = run_metrics_js("m.parseExposition(inputs.text)", text=text)
    assert samples == [{"name": "whisklet_http_requests_total", "labels": {"method": "GET", "route": '/a "b", c', "code": "200"},
                        "value": 7}]
