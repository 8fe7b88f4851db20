"""The benchmark runner's additions to Locust: a staircase of offered rates, and a log of every request.

Loaded beside the scenarios: `locust -f bench/locustfile.py,bench/staircase.py --headless`. Reads:

- `BENCH_STEPS`: JSON list of steps `{"name", "rate", "seconds", "classes"}`. A step runs
  `round(rate / user_rate)` users of the listed user classes (split by their weights), each user paced
  at its class's `rate` tasks per second (a constant throughput) from a random phase, so the offered
  rate is `rate` requests per second from the step's first second on.
- `BENCH_REQUESTS`: a CSV file receiving one row per request: start (epoch s), name, response time
  (ms), HTTP status (0 when none came) and whether it counted as a success.
- `BENCH_STEP_LOG`: a CSV file receiving one row per step as it starts: index, name, start (epoch s).

The clock starts once the scenarios' set-up (creating the actions) is done; after the last step the
test stops by itself.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, TextIO

from locust import LoadTestShape, events
from locust.env import Environment

_STEPS: list[dict[str, Any]] = json.loads(os.environ.get("BENCH_STEPS", "[]"))


class Staircase(LoadTestShape):
    """Each step of `BENCH_STEPS` in turn, then the end of the test."""

    def __init__(self) -> None:
        super().__init__()
        self._started: list[float] = []
        self._classes: list[type] = []

    def tick(self) -> tuple[int, float, list] | None:
        environment = self.runner.environment
        ready_at = environment.whisklet.ready_at
        if ready_at is None:
            return 0, 1, []  # starts the test, whose set-up sets `ready_at`
        elapsed = time.time() - ready_at
        for index, step in enumerate(_STEPS):
            elapsed -= step["seconds"]
            if elapsed < 0:
                if len(self._started) == index:
                    self._started.append(time.time() if index else ready_at)
                    _log_step(environment, index, step["name"], self._started[index])
                return self._load(step, environment)
        return None

    def _load(self, step: dict[str, Any], environment: Environment) -> tuple[int, float, list]:
        classes = [environment.user_classes_by_name[name] for name in step["classes"]]
        classes = [cls for cls in classes if _offered(cls, environment)]
        if classes != self._classes and self.get_current_user_count():
            return 0, 100, self._classes  # Locust keeps running users when the classes change: stop them first
        self._classes = classes
        if not classes:
            return 0, 100, []
        users = round(step["rate"] / classes[0].rate)  # the classes of a step share one per-user rate
        return users, max(users, self.get_current_user_count(), 1), classes  # every change within a second


def _offered(cls: type, environment: Environment) -> bool:
    """Whether the server offers a scenario: triggers and web actions may be missing."""
    deployment = environment.whisklet
    return {"TriggerFire": deployment.triggers, "WebAction": deployment.web}.get(cls.__name__, True)


def _open(variable: str) -> TextIO | None:
    path = os.environ.get(variable)
    return open(path, "a", buffering=1) if path else None


@events.init.add_listener
def _open_logs(environment: Environment, **_) -> None:
    environment.bench_requests = _open("BENCH_REQUESTS")
    environment.bench_steps = _open("BENCH_STEP_LOG")
    if environment.bench_requests is not None:

        @environment.events.request.add_listener
        def _log_request(name: str, response_time: float, response: Any = None, exception: Any = None,
                         start_time: float | None = None, **_) -> None:
            status = getattr(response, "status_code", 0) or 0
            began = start_time if start_time is not None else time.time() - response_time / 1000
            environment.bench_requests.write(
                f"{began:.3f},{name},{response_time:.1f},{status},{0 if exception else 1}\n"
            )


def _log_step(environment: Environment, index: int, name: str, started: float) -> None:
    if environment.bench_steps is not None:
        environment.bench_steps.write(f"{index},{name},{started:.3f}\n")


@events.quitting.add_listener
def _close_logs(environment: Environment, **_) -> None:
    for log in (environment.bench_requests, environment.bench_steps):
        if log is not None:
            log.close()
