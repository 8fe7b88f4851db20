"""What the pool is asked to run (`Job`) and what comes back (`RunResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.driver import Egress, ResourceUse


class ActivationStatus(IntEnum):
    """OpenWhisk's four activation outcomes, with their status codes."""

    SUCCESS = 0
    APPLICATION_ERROR = 1
    DEVELOPER_ERROR = 2
    INTERNAL_ERROR = 3

    @property
    def text(self) -> str:
        return _STATUS_TEXT[self]


_STATUS_TEXT = {
    ActivationStatus.SUCCESS: "success",
    ActivationStatus.APPLICATION_ERROR: "application error",
    ActivationStatus.DEVELOPER_ERROR: "action developer error",
    ActivationStatus.INTERNAL_ERROR: "whisk internal error",
}


@dataclass(frozen=True, slots=True)
class Job:
    """One activation to run in a fresh container.

    `code`, `main`, `binary` and `env` make the `/init` request (`env` values are strings: init
    parameters and the `__OW_*` context). `run_value` is the pre-encoded JSON of the `/run` body's
    `value`; `run_context` its other string keys except `deadline`, which the pool adds when it sends
    `/init` with `/run` pipelined behind it (so `__OW_DEADLINE` is earlier than the enforced limit by the
    `/init` time, ~1-2 ms warm). `egress` is the outbound network the activation's sandbox must have (its namespace's
    `limits.egress`).
    """

    activation_id: str
    action_name: str
    code: str
    main: str
    binary: bool
    memory_mb: int
    timeout_ms: int
    log_limit_bytes: int
    result_limit_bytes: int
    run_value: bytes
    env: dict[str, str] = field(default_factory=dict)
    run_context: dict[str, str] = field(default_factory=dict)
    kind: str = DEFAULT_KIND  # the runtime its sandbox runs (`pool/runtime/nodejs/kinds.py`)
    egress: Egress = "none"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one activation: always data, never an exception.

    `result` is the JSON of `response.result` (for failures always `{"error": ...}`), `size` the length
    of the runner's reply when there was one. Times are epoch milliseconds; `wait_ms` is the time
    spent waiting for a container, `cold_start` whether that container had to be created for it.
    `resource_use` is what the sandbox used, read by the pool from its cgroups when the run ended
    (None where the driver cannot know).
    """

    status: ActivationStatus
    result: bytes
    size: int | None
    start_ms: int
    end_ms: int
    init_ms: int
    wait_ms: int
    cold_start: bool
    timed_out: bool
    logs: list[str]
    resource_use: ResourceUse | None = None
