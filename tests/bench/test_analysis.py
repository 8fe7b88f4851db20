"""A run's figures per step, from a request log and metric scrapes made up for the purpose."""

from __future__ import annotations

from bench.analysis import Request, Step, read_requests, read_started, step_result, value_at
from bench.scrape import COLUMNS, figures


def scrape(t: float, **values: float) -> dict[str, float]:
    return {**dict.fromkeys(COLUMNS, 0.0), "t": t, **values}


def test_a_figure_between_two_scrapes_is_interpolated():
    rows = [scrape(10.0, activations=0), scrape(12.0, activations=8)]
    assert value_at(rows, 11.0, "activations") == 4
    assert value_at(rows, 5.0, "activations") == 0
    assert value_at(rows, 20.0, "activations") == 8


def test_a_step_counts_its_own_requests_activations_and_cold_starts():
    step = Step(0, "1x", rate=2.0, seconds=10.0, started=100.0, kind="activations")
    requests = [Request(100.0 + n / 2, "invoke blocking", 10.0 + n, 200, True) for n in range(20)]
    requests += [Request(105.0, "invoke blocking", 5000.0, 503, False), Request(111.0, "invoke blocking", 1.0, 200, True)]
    rows = [scrape(100.0, activations=50, succeeded=50, cold_starts=5, prewarmed=3, target=4, cpu_s=1.0,
                   containers_created=40, create_estimate_s=0.05),
            scrape(105.0, activations=60, succeeded=60, cold_starts=6, prewarmed=1, leased=2, creating=3, target=6,
                   create_estimate_s=0.09),
            scrape(110.0, activations=70, succeeded=69, cold_starts=7, prewarmed=2, target=5, cpu_s=2.0,
                   containers_created=61, create_estimate_s=0.07)]
    result = step_result(step, requests, rows)
    assert result.attempted_per_s == 2.1
    assert result.ok_per_s == 2.0
    assert result.activations_per_s == 2.0
    assert result.succeeded_per_s == 1.9
    assert result.created_per_s == 2.1
    assert result.cold_start_ratio == 0.1
    assert result.refused == {503: 1}
    assert result.latency_ms[50] in (19.0, 20.0) and result.latency_ms[99] == 29.0
    assert (result.pool_peak, result.prewarmed_peak, result.target_peak) == (6, 3, 6)
    assert (result.prewarmed_median, round(result.create_ms_median), result.cold_starts) == (2, 70, 2)
    assert result.cpu_cores == 0.1


def test_a_step_without_activations_has_no_cold_start_ratio():
    step = Step(1, "CRUD mix", rate=10.0, seconds=5.0, started=0.0, kind="crud")
    result = step_result(step, [Request(1.0, "action get", 3.0, 200, True)], [scrape(0.0), scrape(5.0)])
    assert result.cold_start_ratio is None
    assert result.latency_ms == {50: 3.0, 95: 3.0, 99: 3.0}


def test_logs_written_by_the_staircase_are_read_back(tmp_path):
    (tmp_path / "requests.csv").write_text("100.500,invoke blocking,12.5,200,1\n101.000,web action,0.0,0,0\n")
    (tmp_path / "steps.csv").write_text("0,0.5x ceiling,100.000\n1,CRUD mix,112.250\n")
    assert read_requests(tmp_path / "requests.csv") == [
        Request(100.5, "invoke blocking", 12.5, 200, True), Request(101.0, "web action", 0.0, 0, False)]
    assert read_started(tmp_path / "steps.csv") == {0: 100.0, 1: 112.25}


def test_a_scrape_sums_counters_over_their_labels():
    text = "\n".join([
        'whisklet_activations_total{kind="nodejs:20",status="success"} 5',
        'whisklet_activations_total{kind="nodejs:20",status="application_error"} 2',
        'whisklet_pool_containers{state="prewarmed"} 3',
        'whisklet_pool_containers{state="leased"} 1',
        'whisklet_throttled_requests_total{reason="concurrent_invocations"} 4',
        'whisklet_throttled_requests_total{reason="invocations_per_minute"} 1',
        "process_resident_memory_bytes 104857600",
    ]) + "\n"
    row = figures(text)
    assert (row["activations"], row["succeeded"], row["failed"]) == (7, 5, 2)
    assert (row["prewarmed"], row["leased"], row["throttled"], row["rss_mb"]) == (3, 1, 5, 100)
