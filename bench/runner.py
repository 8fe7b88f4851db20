"""`python -m bench`: Whisklet under a staircase of offered activation rates, against the driver's ceiling.

    python -m bench [--profile quick|full] [--driver sandbox|docker] [--out DIR] [--server-env KEY=VALUE ...]

1. Measures, on this machine and in this run, the ceiling that fits the driver (`bench.limit`): for
   `sandbox` the machine's limit, the bare-Node spawn rate; for `docker` the raw Docker create+start+remove
   rate with Whisklet's container settings; and the bare `/init`+`/run` round trip over a runner's Unix
   socket (`bench.core`). `--driver` defaults to what `pool.driver = auto` picks on this host.
2. Starts a `whisklet serve` of its own on 127.0.0.1 with that driver (fresh data directory, throttles
   raised so that they do not cap the run) and scrapes its `/metrics` every second.
3. Runs Locust headless (`bench/locustfile.py` + `bench/staircase.py`) through steps of offered
   activation rates, as fractions of the measured ceiling (blocking invokes 70 %, non-blocking
   invokes, trigger fires through a rule, web actions), then, in the full profile, an idle step in
   which the pool shrinks back, and a CRUD step.
4. Measures the ceiling once more (it drifts with the host's load), and
   writes the report directory (default `bench/reports/<timestamp>/`): `summary.md`, `throughput.png`,
   `latency.png`, `pool.png`, `requests.csv`, `metrics.csv`, `steps.csv` and Locust's CSVs.

The quick profile takes under two minutes, the full one under ten. Every run is bounded: Locust stops
after the last step, and is killed if it overruns; the server and its containers are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench import analysis, report
from bench.core import LIMITS, socket_round_trips
from bench.limit import ceiling_for
from bench.scrape import Scraper
from bench.serving import ServedWhisklet, sandbox_names
from pool.sandbox.factory import choose

BENCH = Path(__file__).resolve().parent
REPORTS = BENCH / "reports"
ACTIVATION_CLASSES = ["BlockingInvoke", "NonBlockingInvoke", "TriggerFire", "WebAction"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How long and how hard a run goes. Offered rates are fractions of the ceiling measured in the run."""

    fractions: tuple[float, ...]
    step_s: float
    idle_s: float  # a step without load after the staircase: the pool shrinks back
    crud_per_s: float
    crud_s: float
    ceiling_cycles: int
    round_trips: int
    user_rate: float  # tasks per second of one activation user: a user keeps the pace up to 1/user_rate s latency


PROFILES = {
    "quick": Profile((0.3, 0.6, 0.9, 1.3), step_s=12, idle_s=0, crud_per_s=20, crud_s=8,
                     ceiling_cycles=16, round_trips=8, user_rate=0.1),
    "full": Profile((0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5), step_s=40, idle_s=60, crud_per_s=40, crud_s=30,
                    ceiling_cycles=48, round_trips=30, user_rate=0.05),
}


def staircase(profile: Profile, ceiling_per_s: float) -> list[dict]:
    steps = [
        {"name": f"{fraction:g}x ceiling", "rate": round(fraction * ceiling_per_s, 2), "seconds": profile.step_s,
         "classes": ACTIVATION_CLASSES, "kind": "activations"}
        for fraction in profile.fractions
    ]
    if profile.idle_s:
        steps.append({"name": "idle", "rate": 0, "seconds": profile.idle_s, "classes": ACTIVATION_CLASSES,
                      "kind": "idle"})
    steps.append({"name": "CRUD mix", "rate": profile.crud_per_s, "seconds": profile.crud_s, "classes": ["CrudMix"],
                  "kind": "crud"})
    return steps


def describe_machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    runtime = subprocess.run(["docker", "info", "--format", "{{.DefaultRuntime}}, cgroup v{{.CgroupVersion}}"],
                             capture_output=True, text=True)
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{memory_kb / 2**20:.0f} GiB",
        "kernel": platform.release(),
        "Docker": f"{docker.stdout.strip() or 'unknown'} ({runtime.stdout.strip()})",
        "Python": platform.python_version(),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def run_locust(url: str, auth: tuple[str, str], steps: list[dict], profile: Profile, out: Path) -> int:
    """Run the staircase; returns Locust's exit code. Killed if it overruns the schedule by two minutes."""
    env = {
        **os.environ,
        "APIHOST": url,
        "AUTH": ":".join(auth),
        "BENCH_STEPS": json.dumps(steps),
        "BENCH_REQUESTS": str(out / "requests.csv"),
        "BENCH_STEP_LOG": str(out / "steps.csv"),
        "BENCH_USER_RATE": str(profile.user_rate),
        "BENCH_CRUD_USER_RATE": "1",
    }
    command = [
        sys.executable, "-m", "locust", "-f", f"{BENCH / 'locustfile.py'},{BENCH / 'staircase.py'}",
        "--headless", "--host", url, "--csv", str(out / "locust"), "--csv-full-history", "--only-summary",
    ]
    budget_s = sum(step["seconds"] for step in steps) + 120
    with (out / "locust.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=BENCH.parent)
        try:
            return process.wait(budget_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            print(f"bench: Locust overran its {budget_s:.0f} s and was stopped", file=sys.stderr)
            return 1


def remove_leftovers(data_dir: Path) -> None:
    names = sandbox_names(data_dir)
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--driver", choices=("sandbox", "docker"),
                        help="pool.driver of the benchmarked server (default: what pool.driver = auto picks here)")
    parser.add_argument("--out", type=Path, help="report directory (default bench/reports/<timestamp>)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment of the benchmarked server, e.g. WHISKLET_POOL_HEADROOM=2")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    began, started = time.monotonic(), datetime.now()
    out = args.out or REPORTS / started.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    driver = args.driver or asyncio.run(choose("auto"))
    server_env = {**LIMITS, "WHISKLET_SERVER_SHUTDOWN_GRACE_S": "10", "WHISKLET_POOL_DRIVER": driver,
                  **dict(item.split("=", 1) for item in args.server_env)}
    machine = describe_machine()

    print(f"bench: driver {driver}; measuring its ceiling and the Unix-socket round trip", flush=True)
    ceiling = asyncio.run(ceiling_for(driver, profile.ceiling_cycles))
    trips = asyncio.run(socket_round_trips(profile.round_trips, driver))
    print(f"bench: ceiling ({ceiling.name}) {ceiling.per_s:.2f}/s", flush=True)
    steps = staircase(profile, ceiling.per_s)

    with tempfile.TemporaryDirectory(prefix="wl-bench-", dir="/tmp") as tmp:
        data_dir = Path(tmp) / "data"
        served = ServedWhisklet(data_dir, env=server_env)
        try:
            served.start()
            time.sleep(3)  # the pool fills its minimum
            print(f"bench: {len(steps)} steps against {served.url}: "
                  + ", ".join(f"{s['name']} {s['rate']}/s" for s in steps), flush=True)
            with Scraper(f"{served.url}/metrics") as scraper:
                code = run_locust(served.url, served.auth, steps, profile, out)
                time.sleep(2)
            scraper.write(out / "metrics.csv")
        finally:
            served.stop()
            (out / "whisklet.log").write_text("".join(served.output))
            remove_leftovers(data_dir)

    machine["load average at end"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    ceiling_after = asyncio.run(ceiling_for(driver, profile.ceiling_cycles))
    requests = analysis.read_requests(out / "requests.csv")
    started_at = analysis.read_started(out / "steps.csv")

    def lasted(index: int, planned_s: float) -> float:
        """A step ends where the next began (Locust changes steps on its one-second ticks)."""
        return started_at[index + 1] - started_at[index] if index + 1 in started_at else planned_s
    results = [
        analysis.step_result(analysis.Step(i, s["name"], s["rate"], lasted(i, s["seconds"]), started_at[i], s["kind"]),
                             requests, scraper.rows)
        for i, s in enumerate(steps) if i in started_at
    ]
    run = report.Run(
        profile=args.profile, driver=driver,
        command=" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        machine=machine, ceiling=ceiling, ceiling_after=ceiling_after, round_trips_ms=trips, server_env=server_env,
        started=started.strftime("%Y-%m-%d %H:%M"), seconds=time.monotonic() - began,
    )
    summary = report.write(results, scraper.rows, run, out)
    print(f"bench: report in {summary.parent} ({run.seconds:.0f} s)", flush=True)
    return code
