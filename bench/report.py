"""A benchmark run's report: PNG plots and `summary.md`, written into the run's directory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.analysis import StepResult
from bench.ceiling import BARE_NODE, DOCKER_CHURN, Ceiling
from bench.core import percentile

PLOTS = ("throughput.png", "latency.png", "pool.png")
GOAL_SHARE = 0.8  # issue 10: < 1 % cold starts below this share of the ceiling


@dataclass(frozen=True, slots=True)
class Run:
    """What the runner knows of the run besides the steps' figures."""

    profile: str
    driver: str  # the server's pool.driver
    command: str
    machine: dict[str, str]
    ceiling: Ceiling
    ceiling_after: Ceiling  # measured again after the staircase: the rate drifts with the host's load
    round_trips_ms: list[float]
    server_env: dict[str, str]
    started: str
    seconds: float


CEILING_TEXT = {
    DOCKER_CHURN: "raw Docker create+start+remove of the same hardened container",
    BARE_NODE: "the machine's limit, the bare-Node spawn rate (the runner spawned on the host without "
               "isolation, answering its first request, killed)",
}


def activation_steps(results: list[StepResult]) -> list[StepResult]:
    return [r for r in results if r.step.kind == "activations"]


def plot_throughput(results: list[StepResult], run: Run, path: Path) -> None:
    steps = activation_steps(results)
    offered = [r.step.rate for r in steps]
    figure, axes = plt.subplots(figsize=(8, 5))
    top = max([*offered, run.ceiling.per_s]) * 1.1
    axes.plot([0, top], [0, top], color="0.8", linestyle=":", label="achieved = offered")
    axes.axhline(run.ceiling.per_s, color="tab:red", linestyle="--",
                 label=f"ceiling: {run.ceiling.name} {run.ceiling.per_s:.2f}/s")
    axes.plot(offered, [r.attempted_per_s for r in steps], "o-", color="0.5", label="requests sent/s")
    axes.plot(offered, [r.activations_per_s for r in steps], "s-", color="tab:blue", label="activations ended/s")
    axes.plot(offered, [r.succeeded_per_s for r in steps], "^-", color="tab:green", label="successful activations/s")
    axes.plot(offered, [r.created_per_s for r in steps], "x--", color="tab:orange", label="sandboxes the pool created/s")
    axes.set_xlabel("offered rate (activations/s)")
    axes.set_ylabel("per second")
    axes.set_xlim(0, top)
    axes.set_ylim(0, top)
    axes.set_title(f"Offered rate against achieved throughput, one fresh sandbox per activation ({run.driver} driver)")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_latency(results: list[StepResult], run: Run, path: Path) -> None:
    steps = [r for r in activation_steps(results) if r.latency_ms]
    figure, axes = plt.subplots(figsize=(8, 5))
    offered = [r.step.rate for r in steps]
    for p, style in ((50, "o-"), (95, "s--"), (99, "^:")):
        axes.plot(offered, [r.latency_ms[p] for r in steps], style, label=f"p{p}")
    if run.round_trips_ms:
        axes.axhline(percentile(run.round_trips_ms, 50), color="0.5", linestyle="--",
                     label=f"bare /init+/run over the Unix socket, p50 {percentile(run.round_trips_ms, 50):.1f} ms")
    axes.axvline(run.ceiling.per_s, color="tab:red", linestyle="--", label=f"ceiling: {run.ceiling.name}")
    axes.set_yscale("log")
    axes.set_xlabel("offered rate (activations/s)")
    axes.set_ylabel("blocking invoke latency (ms, log scale)")
    axes.set_title("Blocking invoke latency per step (HTTP, as the caller sees it)")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_pool(results: list[StepResult], rows: list[dict[str, float]], path: Path) -> None:
    if not rows or not results:
        return
    origin = results[0].step.started
    t = [row["t"] - origin for row in rows]
    figure, (pool, cold) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, height_ratios=(3, 1))
    pool.plot(t, [row["prewarmed"] for row in rows], label="prewarmed", color="tab:green")
    pool.plot(t, [row["target"] for row in rows], label="target", color="tab:green", linestyle="--")
    pool.plot(t, [row["leased"] for row in rows], label="leased (running)", color="tab:blue")
    pool.plot(t, [row["creating"] for row in rows], label="creating", color="tab:orange")
    pool.plot(t, [row["waiting"] for row in rows], label="activations waiting", color="tab:red")
    rate = pool.twinx()
    rate.plot(t, [row["arrivals_per_s"] for row in rows], color="0.4", linestyle=":", label="estimated arrivals/s")
    rate.step([r.step.started - origin for r in results] + [results[-1].step.ended - origin],
              [r.step.rate if r.step.kind == "activations" else 0 for r in results] + [0],
              where="post", color="0.7", label="offered activations/s")
    rate.set_ylabel("activations/s")
    pool.set_ylabel("sandboxes")
    lines = pool.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    pool.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize="small", ncol=2)
    pool.set_title("The pool following the offered rate")
    pool.grid(alpha=0.3)
    starts = [row["cold_starts"] for row in rows]
    cold.bar(t[1:], [b - a for a, b in itertools.pairwise(starts)], width=1.0, color="tab:red")
    cold.set_ylabel("cold starts/s")
    cold.set_xlabel("seconds since the first step")
    for axes in (pool, cold):
        for result in results:
            axes.axvline(result.step.started - origin, color="0.85", linewidth=0.8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def summary(results: list[StepResult], rows: list[dict[str, float]], run: Run) -> str:
    ceiling = run.ceiling.per_s
    steps = activation_steps(results)
    best = max(steps, key=lambda r: r.succeeded_per_s, default=None)
    trips = run.round_trips_ms
    lines = [
        f"# Whisklet benchmark: `{run.profile}` profile, {run.started}",
        "",
        f"Command: `{run.command}` ({run.seconds:.0f} s in all).",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in run.machine.items()),
        "",
        "## Baselines, measured in this run",
        "",
        f"- Driver: `{run.driver}`. Ceiling: {CEILING_TEXT.get(run.ceiling.name, run.ceiling.name)}, "
        f"{run.ceiling.parallel} in parallel: **{ceiling:.2f}/s** ({run.ceiling.cycles} in {run.ceiling.seconds:.1f} s), "
        f"{run.ceiling_after.per_s:.2f}/s measured again after the staircase. Every activation uses a fresh "
        "sandbox, so this is the ceiling for activations/s with this driver on this machine; the staircase's "
        "rates are fractions of the first figure.",
    ]
    if trips:
        lines.append(
            f"- Bare `/init` + `/run` over a prewarmed runner's Unix socket (n={len(trips)}): "
            f"p50 {percentile(trips, 50):.2f} ms, p99 {percentile(trips, 99):.2f} ms."
        )
    lines += ["", "## Headline", ""]
    if best is not None:
        lines.append(
            f"- Best sustained throughput: **{best.succeeded_per_s:.2f} successful activations/s = "
            f"{best.succeeded_per_s / ceiling:.0%} of the ceiling ({run.ceiling.name})** (offered {best.step.rate:.2f}/s)."
        )
    for share, label in ((GOAL_SHARE, f"below {GOAL_SHARE:g} of the ceiling (the goal: < 1 %)"), (1.0, "below the ceiling")):
        # a step's rate is rounded to 0.01/s: the step at exactly `share` of the ceiling is not below it
        under = [r for r in steps if r.step.rate < share * ceiling - 0.01 and r.cold_start_ratio is not None]
        if under:
            starts = sum((r.cold_start_ratio or 0.0) * r.activations_per_s * r.step.seconds for r in under)
            total = sum(r.activations_per_s * r.step.seconds for r in under)
            lines.append(
                f"- Cold-start ratio while the offered rate is {label}: **{starts / total:.1%}** "
                f"({starts:.0f} of {total:.0f} activations waited for a sandbox)."
            )
    if steps:
        fastest = max(steps, key=lambda r: r.created_per_s)
        lines.append(
            f"- The pool created at most {fastest.created_per_s:.2f} sandboxes/s (step {fastest.step.name}): "
            f"{fastest.created_per_s / ceiling:.0%} of the ceiling, for create + start + runner ready + "
            "kill + remove."
        )
        peak = max(steps, key=lambda r: r.pool_peak)
        lines.append(
            f"- Pool peak: {peak.pool_peak} sandboxes (prewarmed + running + being created) at an offered "
            f"{peak.step.rate:.2f}/s; its prewarmed target peaked at {max(r.target_peak for r in steps)}."
        )
    lines += [
        "",
        "## Steps",
        "",
        "Offered: the staircase's rate (blocking 70 %, non-blocking, trigger fire through a rule, web action).",
        "Sent: requests actually started. Ended: activations Whisklet finished (any status). Latency: blocking",
        "`invoke --result` as the caller sees it; for the CRUD step, every request. Refused: unexpected answers",
        "by HTTP status (0 = no answer). Prewarmed: the idle stock, median / peak of the step's scrapes; create:",
        "the pool's creation time estimate (median of the scrapes).",
        "",
        "| step | offered/s | sent/s | ended/s | successful/s | of ceiling | cold starts | p50 ms | p95 ms | p99 ms "
        "| refused | created/s | create ms | pool peak | prewarmed median / peak | target peak | gateway CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        latency = [f"{r.latency_ms[p]:.0f}" if r.latency_ms else "-" for p in (50, 95, 99)]
        cold = f"{r.cold_start_ratio:.1%} ({r.cold_starts})" if r.cold_start_ratio is not None else "-"
        refused = ", ".join(f"{status}: {n}" for status, n in r.refused.items()) or "0"
        lines.append(
            f"| {r.step.name} | {r.step.rate:.2f} | {r.attempted_per_s:.2f} | {r.activations_per_s:.2f} | "
            f"{r.succeeded_per_s:.2f} | {r.succeeded_per_s / ceiling:.0%} | {cold} | {' | '.join(latency)} | "
            f"{refused} | {r.created_per_s:.2f} | {r.create_ms_median:.0f} | {r.pool_peak} | "
            f"{r.prewarmed_median:g} / {r.prewarmed_peak} | {r.target_peak} | "
            f"{r.cpu_cores:.0%} |"
        )
    lines += [
        "",
        "## Server settings",
        "",
        *(f"- `{key}={value}`" for key, value in sorted(run.server_env.items())),
        "",
        "## Plots",
        "",
        *(f"![{name[:-4]}]({name})" for name in PLOTS),
        "",
        "Files: `requests.csv` (every request), `metrics.csv` (a /metrics scrape a second), `steps.csv`,",
        "and Locust's own `locust_*.csv`.",
        "",
    ]
    return "\n".join(lines)


def write(results: list[StepResult], rows: list[dict[str, float]], run: Run, directory: Path) -> Path:
    plot_throughput(results, run, directory / PLOTS[0])
    plot_latency(results, run, directory / PLOTS[1])
    plot_pool(results, rows, directory / PLOTS[2])
    path = directory / "summary.md"
    path.write_text(summary(results, rows, run))
    return path
