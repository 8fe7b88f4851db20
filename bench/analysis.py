"""A benchmark run's figures per step, from Locust's request log and the scraped metrics."""

from __future__ import annotations

import csv
import itertools
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.core import percentile

BLOCKING = "invoke blocking"


@dataclass(frozen=True, slots=True)
class Request:
    """One request as Locust made it: start (epoch s), name, response time, HTTP status, success."""

    began: float
    name: str
    ms: float
    status: int
    ok: bool


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the staircase: `rate` requests per second offered for `seconds` from `started`."""

    index: int
    name: str
    rate: float
    seconds: float
    started: float
    kind: str  # "activations", "crud" or "idle"

    @property
    def ended(self) -> float:
        return self.started + self.seconds


@dataclass(frozen=True, slots=True)
class StepResult:
    step: Step
    attempted_per_s: float  # requests started per second
    ok_per_s: float  # requests answered as expected per second
    activations_per_s: float  # activations that ended per second, by Whisklet's count
    succeeded_per_s: float  # of which successful
    created_per_s: float  # containers the pool created per second
    cold_start_ratio: float | None  # cold starts per activation; None without activations
    latency_ms: dict[int, float]  # percentile -> ms, of blocking invokes (activation steps) or all (crud)
    refused: dict[int, int] = field(default_factory=dict)  # HTTP status (0: no answer) -> count, unexpected only
    pool_peak: int = 0  # most containers at once: prewarmed + leased + creating
    prewarmed_peak: int = 0
    target_peak: int = 0
    prewarmed_median: float = 0.0  # the prewarmed stock, median of the step's scrapes
    create_ms_median: float = 0.0  # the pool's creation time estimate, median of the step's scrapes
    cold_starts: int = 0  # activations that waited for a sandbox
    cpu_cores: float = 0.0  # the Whisklet process's CPU use


def read_requests(path: Path) -> list[Request]:
    if not path.exists():
        return []
    with path.open() as log:
        return [Request(float(t), name, float(ms), int(status), ok == "1") for t, name, ms, status, ok in csv.reader(log)]


def read_started(path: Path) -> dict[int, float]:
    """Step index -> start (epoch s), as the staircase logged them."""
    if not path.exists():
        return {}
    with path.open() as log:
        return {int(index): float(started) for index, _, started in csv.reader(log)}


def value_at(rows: list[dict[str, float]], t: float, key: str) -> float:
    """A scraped figure at time `t`, interpolated linearly between the scrapes around it."""
    if not rows:
        return 0.0
    if t <= rows[0]["t"]:
        return rows[0][key]
    for before, after in itertools.pairwise(rows):
        if before["t"] <= t <= after["t"]:
            span = after["t"] - before["t"]
            weight = (t - before["t"]) / span if span > 0 else 1.0
            return before[key] + weight * (after[key] - before[key])
    return rows[-1][key]


def step_result(step: Step, requests: list[Request], rows: list[dict[str, float]]) -> StepResult:
    began, ended = step.started, step.ended
    made = [r for r in requests if began <= r.began < ended]
    measured = [r.ms for r in made if r.ok and (r.name == BLOCKING or step.kind == "crud")]

    def delta(key: str) -> float:
        return value_at(rows, ended, key) - value_at(rows, began, key)

    activations = delta("activations")
    during = [row for row in rows if began <= row["t"] <= ended]
    return StepResult(
        step=step,
        attempted_per_s=len(made) / step.seconds,
        ok_per_s=sum(r.ok for r in made) / step.seconds,
        activations_per_s=activations / step.seconds,
        succeeded_per_s=delta("succeeded") / step.seconds,
        created_per_s=delta("containers_created") / step.seconds,
        cold_start_ratio=delta("cold_starts") / activations if activations >= 1 else None,
        latency_ms={p: percentile(measured, p) for p in (50, 95, 99)} if measured else {},
        refused=dict(sorted(Counter(r.status for r in made if not r.ok).items())),
        pool_peak=int(max((r["prewarmed"] + r["leased"] + r["creating"] for r in during), default=0)),
        prewarmed_peak=int(max((r["prewarmed"] for r in during), default=0)),
        target_peak=int(max((r["target"] for r in during), default=0)),
        prewarmed_median=statistics.median([r["prewarmed"] for r in during]) if during else 0.0,
        create_ms_median=statistics.median([r["create_estimate_s"] * 1000 for r in during]) if during else 0.0,
        cold_starts=round(delta("cold_starts")),
        cpu_cores=delta("cpu_s") / step.seconds,
    )
