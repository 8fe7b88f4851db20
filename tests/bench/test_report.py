"""The report of a made-up run: its plots exist and its summary states the ratios."""

from __future__ import annotations

from bench.analysis import Step, StepResult
from bench.ceiling import Ceiling
from bench.report import PLOTS, Run, write
from bench.scrape import COLUMNS


def result(index: int, rate: float, succeeded: float, cold: float | None, kind: str = "activations") -> StepResult:
    step = Step(index, f"step {index}", rate, 10.0, 1000.0 + 10 * index, kind)
    return StepResult(step, attempted_per_s=rate, ok_per_s=succeeded, activations_per_s=succeeded,
                      succeeded_per_s=succeeded, created_per_s=succeeded + 0.5, cold_start_ratio=cold,
                      latency_ms={50: 12.0 * (index + 1), 95: 30.0, 99: 45.0 * (index + 1)},
                      refused={503: 3} if rate > 4 else {}, pool_peak=2 + index, prewarmed_peak=2, target_peak=3 + index,
                      prewarmed_median=1.5, create_ms_median=80.0, cold_starts=round((cold or 0) * succeeded * 10))


def test_the_report_has_its_plots_and_a_summary_with_the_ratios(tmp_path):
    results = [result(0, 1.0, 1.0, 0.0), result(1, 2.0, 2.0, 0.02), result(2, 5.0, 3.0, 0.5),
               result(3, 20.0, 0.0, None, kind="crud")]
    rows = [{**dict.fromkeys(COLUMNS, 1.0), "t": 1000.0 + t, "cold_starts": t / 10} for t in range(40)]
    run = Run(profile="quick", driver="docker", command="python -m bench", machine={"CPU": "test, 2 cores"},
              ceiling=Ceiling(cycles=30, parallel=3, seconds=7.5),
              ceiling_after=Ceiling(cycles=30, parallel=3, seconds=10.0), round_trips_ms=[0.3, 0.4, 0.5],
              server_env={"WHISKLET_POOL_HEADROOM": "1.5"}, started="2024-01-01 00:00", seconds=90.0)
    summary = write(results, rows, run, tmp_path)
    for name in PLOTS:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    text = summary.read_text()
    assert "Ceiling: raw Docker create+start+remove" in text and "**4.00/s**" in text
    assert "3.00/s measured again after the staircase" in text
    assert "The pool created at most 3.50 sandboxes/s (step step 2): 88% of the ceiling" in text
    assert "**3.00 successful activations/s = 75% of the ceiling (raw Docker churn)**" in text
    assert "below the ceiling: **1.3%**" in text  # (0 x 10 + 0.02 x 20) / 30 activations
    assert "below 0.8 of the ceiling (the goal: < 1 %): **1.3%**" in text  # steps 0 and 1, below 3.2/s
    assert "| step 2 | 5.00 | 5.00 | 3.00 | 3.00 | 75% | 50.0% (15) | 36 | 30 | 135 | 503: 3 | 3.50 | 80 | 4 | 1.5 / 2 |" in text
    assert "p50 0.40 ms" in text
    assert all(f"]({name})" in text for name in PLOTS)


def test_the_step_at_the_goals_share_of_the_ceiling_is_not_counted_below_it(tmp_path):
    ceiling = Ceiling(cycles=48, parallel=4, seconds=1.2394)  # 38.73/s: the 0.8x step rounds down to 30.98/s
    assert round(0.8 * ceiling.per_s, 2) < 0.8 * ceiling.per_s
    results = [result(0, round(0.6 * ceiling.per_s, 2), 23.0, 0.0), result(1, round(0.8 * ceiling.per_s, 2), 30.0, 0.5)]
    rows = [{**dict.fromkeys(COLUMNS, 1.0), "t": 1000.0 + t} for t in range(30)]
    run = Run(profile="full", driver="sandbox", command="python -m bench", machine={}, ceiling=ceiling,
              ceiling_after=ceiling, round_trips_ms=[], server_env={}, started="2024-01-01 00:00", seconds=90.0)
    text = write(results, rows, run, tmp_path).read_text()
    assert "below 0.8 of the ceiling (the goal: < 1 %): **0.0%**" in text
    assert "below the ceiling: **28.3%**" in text  # (0 x 230 + 0.5 x 300) / 530
