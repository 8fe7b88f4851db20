"""The sandbox driver interface: how the pool creates and destroys isolated runners.

The pool never talks to Docker or bubblewrap directly; it holds a `SandboxDriver`: the namespace sandbox
(`pool.sandbox.namespace.driver.NamespaceDriver`) or Docker (`pool.sandbox.docker.driver.DockerDriver`),
chosen by `pool/sandbox/factory.py`. What both share lives beside this module: host directories
(`hostdir.py`) and readiness (`readiness.py`); the runtime file set in `pool/runtime/nodejs/files.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from pool.runtime.nodejs.kinds import DEFAULT_KIND

Egress = Literal["none", "api", "internet"]
"""A sandbox's outbound network, made when it is created: `none` (an empty network namespace), `api`
(only Whisklet's own API, through the forwarder on the sandbox's loopback) or `internet` (the API and a
user-mode network stack, with the always-denied and configured ranges unreachable)."""
EGRESS_MODES: tuple[Egress, ...] = ("none", "api", "internet")


@dataclass(frozen=True, slots=True)
class PoolTuning:
    """What a driver declares to the pool's sizing, measured for it: the pool configuration's 0s
    (`max_parallel_creates`, `headroom`, `cold_start_ratio`) become these (`pool/config.py`)."""

    max_parallel_creates: int  # sandboxes created at once
    headroom: float  # arrivals expected per creation time = headroom x arrival rate x creation time
    cold_start_ratio: float  # the share of arrivals the prewarmed target lets find the pool empty


class RunnerOutput(Protocol):
    """What the runner writes to stdout and stderr, as the gateway receives it.

    1. `read` returns the next chunk as (stream, data), stream "stdout" or "stderr", data never empty;
       None once both streams have ended (the runner exited or the sandbox was destroyed).
    2. `close` is called by the driver on destroy; `read` afterwards returns None. Calling it twice is harmless.
    """

    async def read(self) -> tuple[str, bytes] | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A started, code-less runner that answers on a Unix socket.

    1. `socket_path` is a host path; the runner inside listens there (`/run/whisklet/runner.sock` inside).
       Its directory is writable by the tenant: the pool connects to it only before the activation's
       code has run (the warm-up, the idle check, the one connection an activation uses), and never
       reads or follows anything else there.
    2. `output` carries the runner's stdout and stderr, held by the gateway from before the runner
       started: the activation's logs never pass through a file the tenant can write.
    3. A sandbox serves at most one activation, then it is destroyed.
    4. `egress` is the outbound network it was created with (`Egress`); it never changes.
    """

    id: str
    name: str
    memory_mb: int
    socket_path: str
    output: RunnerOutput = field(compare=False)
    created_at: float = field(compare=False)
    kind: str = field(default=DEFAULT_KIND, compare=False)  # the runtime it runs (`pool/runtime/nodejs/kinds.py`)
    egress: Egress = field(default="none", compare=False)


@dataclass(frozen=True, slots=True)
class SandboxExit:
    """What the engine knows about a sandbox after its runner stopped answering."""

    running: bool
    oom_killed: bool
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class ResourceUse:
    """What a sandbox used for its activation, read by the driver from the host's cgroup files.

    `cpu_ms` counts from when the sandbox became ready (its runtime's start-up is not charged to the
    activation); `peak_memory_bytes` is the sandbox's peak since it was created, runtime included (as
    Lambda's "Max Memory Used"), None where the kernel keeps none (cgroup v2 before Linux 5.19).
    """

    cpu_ms: float
    peak_memory_bytes: int | None


class SandboxError(Exception):
    """A sandbox could not be created, inspected or destroyed. The message says why."""


class EngineUnavailable(SandboxError):
    """The container engine cannot be reached at all (stopped, socket missing)."""


class SandboxLost(SandboxError):
    """A leased sandbox's runner was gone before its activation reached it (the container died while
    idle: killed from outside, or the engine restarted). Nothing of the activation ran."""


class SandboxDriver(Protocol):
    """Creates and destroys sandboxes.

    1. `create` returns only a sandbox of `kind` (a kind of `pool/runtime/nodejs/kinds.py` the driver was
       opened with) whose runner has answered a warm-up request; on any failure it removes what it
       created and raises `SandboxError`.
    2. `destroy` kills and removes the sandbox and its host directory, and closes its `output`.
       Calling it again, or on a sandbox that already died, is harmless.
    3. `remove_orphans` removes every sandbox this driver's label marks as Whisklet's, whoever started it.
    4. Every engine error surfaces as `SandboxError` (or `EngineUnavailable`), never the client's own type.
    5. `resource_use` reads, when its activation's run has ended and before it is destroyed, the CPU time
       the sandbox used since it became ready and its peak memory (`ResourceUse`): two reads of cgroup
       counters opened when it became ready, which never wait (`pool/sandbox/usage.py`). None where the
       driver cannot know (a Docker engine whose cgroups are not cgroupfs v1, a sandbox already gone).
       Never from anything the tenant can write.
    6. The sandbox's host directory is hostile once tenant code ran: the driver's own work there (the
       socket check before the warm-up, removal) never follows a link, never blocks on what it finds,
       and never runs on the event loop's default executor.
    """

    async def create(self, memory_mb: int, kind: str = DEFAULT_KIND, egress: Egress = "none") -> Sandbox: ...

    async def destroy(self, sandbox: Sandbox) -> None: ...

    async def exit_reason(self, sandbox: Sandbox) -> SandboxExit: ...

    async def resource_use(self, sandbox: Sandbox) -> ResourceUse | None: ...

    async def remove_orphans(self) -> int: ...

    async def close(self) -> None: ...
