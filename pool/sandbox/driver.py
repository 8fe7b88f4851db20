"""The sandbox driver interface: how the pool creates and destroys isolated runners.

The pool never talks to Docker directly; it holds a `SandboxDriver`. Docker is the one driver today
(`pool.sandbox.docker.driver.DockerDriver`); a lighter driver can sit beside it later behind the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A started, code-less runner that answers on a Unix socket.

    1. `socket_path` is a host path; the runner inside listens there (`/run/whisklet/runner.sock` inside).
    2. `log_path` is a host path to the file the runner appends formatted log lines to.
    3. A sandbox serves at most one activation, then it is destroyed.
    """

    id: str
    name: str
    memory_mb: int
    socket_path: str
    log_path: str
    created_at: float = field(compare=False)


@dataclass(frozen=True, slots=True)
class SandboxExit:
    """What the engine knows about a sandbox after its runner stopped answering."""

    running: bool
    oom_killed: bool
    exit_code: int | None


class SandboxError(Exception):
    """A sandbox could not be created, inspected or destroyed. The message says why."""


class EngineUnavailable(SandboxError):
    """The container engine cannot be reached at all (stopped, socket missing)."""


class SandboxLost(SandboxError):
    """A leased sandbox's runner was gone before its activation reached it (the container died while
    idle: killed from outside, or the engine restarted). Nothing of the activation ran."""


class SandboxDriver(Protocol):
    """Creates and destroys sandboxes.

    1. `create` returns only a sandbox whose runner has answered a warm-up request; on any failure it
       removes what it created and raises `SandboxError`.
    2. `destroy` kills and removes the sandbox and its host directory. Calling it again, or on a
       sandbox that already died, is harmless.
    3. `remove_orphans` removes every sandbox this driver's label marks as Whisklet's, whoever started it.
    4. Every engine error surfaces as `SandboxError` (or `EngineUnavailable`), never the client's own type.
    """

    async def create(self, memory_mb: int) -> Sandbox: ...

    async def destroy(self, sandbox: Sandbox) -> None: ...

    async def exit_reason(self, sandbox: Sandbox) -> SandboxExit: ...

    async def remove_orphans(self) -> int: ...

    async def close(self) -> None: ...
