"""The Docker sandbox driver: one hardened, network-less runner container per sandbox.

The only module besides `pool/sandbox/docker/image.py` that talks to aiodocker; every engine error is turned into
`SandboxError` or `EngineUnavailable` by `pool/sandbox/docker/errors.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiodocker

from pool.runner.client import RunnerGone
from pool.runtime.nodejs.files import (
    API_DIR_IN_IMAGE,
    RUN_DIR_IN_IMAGE,
    RUNNER_ARGV,
    RUNNER_GID,
    RUNNER_UID,
)
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.docker.errors import engine_errors
from pool.sandbox.docker.output import open_output_fifos
from pool.sandbox.driver import Egress, ResourceUse, Sandbox, SandboxError, SandboxExit
from pool.sandbox.hostdir import (
    NAME_PREFIX,
    SOCKET_NAME,
    make_host_dir,
    remove_host_dir,
    remove_leftover_dirs,
)
from pool.sandbox.output import PipeOutput
from pool.sandbox.readiness import wait_for_runner
from pool.sandbox.usage import UsageCounters, cpu_ms_v1

log = logging.getLogger("whisklet.pool")

SANDBOX_LABEL = "whisklet.sandbox"
INSTANCE_LABEL = "whisklet.instance"
MEMORY_LABEL = "whisklet.memory_mb"

_POLL_S = 0.005
_STATE_CHECK_S = 0.5
_REMOVE_PARALLELISM = 4
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes, NUL included
_HOST_DIR_WORKERS = 2  # the driver's own threads for host-directory work: tenants cannot stall the default executor
CGROUP_ROOT = Path("/sys/fs/cgroup")
_T = TypeVar("_T")


class DockerDriver:
    """Creates and destroys runner containers through one Docker engine.

    1. Every container is labelled `whisklet.sandbox=<scope>`, `whisklet.instance=<instance>` and
       `whisklet.memory_mb=<n>`; `remove_orphans` removes every container carrying this scope's
       sandbox label, whichever instance started it.
    2. Each container owns `<run_dir>/<name>/` (0700, owned by the runner's uid), bind-mounted at
       `/run/whisklet`; the runner's socket lives there. The driver checks that the socket exists
       (`lstat`, never following a link) and the pool connects to it only before the activation's code
       has run; `destroy` removes the directory on the driver's own two threads, never following a
       link (`shutil.rmtree`'s fd-based walk) and after unmounting its tmpfs. Nothing is read from it.
    3. `run_dir` belongs to one Whisklet process: `remove_orphans` deletes every `whisklet-*` entry
       in it.
    4. The driver does not own the aiodocker session; the caller closes it after `close()`. The
       runner's stdout and stderr reach the gateway through two FIFOs the driver makes in the host
       directory and opens before the container exists (`pool/sandbox/docker/output.py`), never through
       the engine, and are read as pipes (`pool/sandbox/output.py`, `Sandbox.output`).
    5. When `run_dir_mb` > 0 each host directory is a tmpfs of that size (and few inodes), so an action
       that writes there fills its own small quota (charged to its memory limit) and never the host's
       disk. Mounting needs root (CAP_SYS_ADMIN); without it
       the directories are plain ones and a warning says so once.
    6. Egress: `api` and `internet` bind `api_dir` (the gateway's inside API socket) read-only at
       `/run/whisklet-api` and start the runner's API forwarder on the container's loopback; the
       container's network stays `none` (the engine runs without a bridge). `internet` is not given on
       this driver: such a sandbox gets `api`, and a warning says so once.
    """

    def __init__(
        self,
        docker: aiodocker.Docker,
        images: Mapping[str, str],
        run_dir: str | os.PathLike[str],
        instance: str,
        *,
        pids_limit: int = 1024,
        nofile: int = 1024,
        tmp_size_mb: int = 64,
        run_dir_mb: int = 16,
        cpu_shares: int | None = None,
        heap_factor: int = 4,
        start_timeout_s: float = 20.0,
        exit_grace_s: float = 1.0,
        scope: str = "1",
        cgroup_root: Path = CGROUP_ROOT,
        api_dir: Path | None = None,
    ) -> None:
        self._docker = docker
        self._host_dirs = ThreadPoolExecutor(_HOST_DIR_WORKERS, thread_name_prefix="whisklet-host-dir")
        self._outputs: dict[str, PipeOutput] = {}
        self._images = dict(images)  # kind -> the runtime image's tag
        self._run_dir = Path(run_dir)
        self._instance = instance
        self._pids_limit = pids_limit
        self._nofile = nofile
        self._tmp_size_mb = tmp_size_mb
        self._run_dir_mb = run_dir_mb
        self._cpu_shares = cpu_shares
        self._heap_factor = heap_factor
        self._start_timeout_s = start_timeout_s
        self._exit_grace_s = exit_grace_s
        self._scope = scope
        self._launching: dict[str, asyncio.Future[str]] = {}
        self._discards: set[asyncio.Future[None]] = set()
        self._cgroups = _cgroupfs_v1(cgroup_root)
        self._counters: dict[str, UsageCounters] = {}
        self._api_dir = api_dir
        self._internet_warned = False
        socket_path = self._run_dir / (NAME_PREFIX + "0" * 12) / SOCKET_NAME
        if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
            raise ValueError(f"run_dir {str(run_dir)!r} is too long for a Unix socket path under it; use a shorter one")

    async def create(self, memory_mb: int, kind: str = DEFAULT_KIND, egress: Egress = "none") -> Sandbox:
        """Create and start a container of `kind` and wait until its runner answers `GET /health` with 200."""
        image = self._images.get(kind)
        if image is None:
            raise SandboxError(f"this driver has no runtime image for kind {kind!r}")
        name = NAME_PREFIX + secrets.token_hex(6)
        host_dir = self._run_dir / name
        if egress == "internet" and not self._internet_warned:
            self._internet_warned = True
            log.warning("egress = internet is not available on the docker driver (its engine runs without a "
                        "bridge): those sandboxes reach only Whisklet's API (egress = api); use pool.driver = "
                        "\"sandbox\" for internet egress")
        # Shielded: a cancelled create must still learn whether the engine made the container.
        launch = asyncio.ensure_future(self._launch(name, memory_mb, host_dir, image, egress))
        self._launching[name] = launch
        try:
            container_id = await asyncio.shield(launch)
            await self._wait_for_runner(container_id, name, host_dir / SOCKET_NAME)
            await self._mark_ready(container_id)
        except BaseException as exc:
            discard = asyncio.ensure_future(self._discard(name, launch))
            self._discards.add(discard)
            discard.add_done_callback(self._discards.discard)
            await asyncio.shield(discard)
            if isinstance(exc, (OSError, RunnerGone)):
                raise SandboxError(f"creating sandbox {name} failed: {exc!r}") from exc
            raise
        finally:
            self._launching.pop(name, None)
        return Sandbox(
            id=container_id,
            name=name,
            memory_mb=memory_mb,
            socket_path=str(host_dir / SOCKET_NAME),
            output=self._outputs[name],
            created_at=time.monotonic(),
            kind=kind,
            egress=egress,
        )

    async def destroy(self, sandbox: Sandbox) -> None:
        """Close its output, kill and remove the container, then remove its host directory. Harmless to repeat.

        The output goes first: a runner still writing then fails with EPIPE instead of blocking on a pipe
        the gateway stopped reading."""
        if (counters := self._counters.pop(sandbox.id, None)) is not None:
            counters.close()
        self._close_output(sandbox.name)
        try:
            await self._remove(sandbox.id, f"destroying {sandbox.name}")
        finally:
            await self._in_host_dir_thread(remove_host_dir, self._run_dir / sandbox.name)

    async def resource_use(self, sandbox: Sandbox) -> ResourceUse | None:
        """CPU time since the container became ready and its peak memory, from its cgroupfs v1 counters
        (`cpuacct/docker/<id>`, `memory/docker/<id>`); None on any other cgroup setup (systemd driver,
        cgroup v2: not read; the engine's stats API costs far more than two counter reads)."""
        counters = self._counters.get(sandbox.id)
        return None if counters is None else counters.read()  # two preads: see pool/sandbox/usage.py

    async def _mark_ready(self, container_id: str) -> None:
        """Open the container's usage counters: `resource_use` counts its CPU time from here."""
        if self._cgroups is None:
            return
        cpuacct, memory = (hierarchy / container_id for hierarchy in self._cgroups)
        counters = await self._in_host_dir_thread(
            UsageCounters.open, cpuacct / "cpuacct.usage", cpu_ms_v1, memory / "memory.max_usage_in_bytes")
        if counters is not None:
            self._counters[container_id] = counters

    async def exit_reason(self, sandbox: Sandbox) -> SandboxExit:
        """Why the runner stopped answering, as far as the engine knows.

        A runner whose connection just broke may still count as running for a few milliseconds, so a
        running container is given up to `exit_grace_s` to stop before the answer is read. A container
        the engine no longer knows reads as stopped, not OOM-killed, exit code unknown.
        """
        state = await self._state(sandbox)
        if state is not None and state["Running"] and self._exit_grace_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._exit_grace_s):
                    with engine_errors(f"waiting for {sandbox.name} to stop"):
                        await self._docker.containers.container(sandbox.id).wait(condition="not-running")
            state = await self._state(sandbox)
        if state is None:
            return SandboxExit(running=False, oom_killed=False, exit_code=None)
        running = bool(state["Running"])
        return SandboxExit(running=running, oom_killed=bool(state["OOMKilled"]),
                           exit_code=None if running else state["ExitCode"])

    async def remove_orphans(self) -> int:
        """Remove every container labelled with this scope's sandbox label, and every host directory
        left in `run_dir`. Returns the number of containers removed."""
        with engine_errors("listing Whisklet's containers"):
            containers = await self._docker.containers.list(
                all=True, filters=json.dumps({"label": [f"{SANDBOX_LABEL}={self._scope}"]})
            )
        limit = asyncio.Semaphore(_REMOVE_PARALLELISM)

        async def remove(container_id: str) -> None:
            async with limit:
                await self._remove(container_id, f"removing orphan container {container_id[:12]}")

        await asyncio.gather(*(remove(c.id) for c in containers))
        await self._in_host_dir_thread(remove_leftover_dirs, self._run_dir)
        return len(containers)

    async def close(self) -> None:
        """Remove what creations still in flight made, and wait for pending clean-ups.

        The aiodocker session stays open: the caller owns it.
        """
        in_flight = [self._discard(name, launch) for name, launch in self._launching.items()]
        await asyncio.gather(*in_flight, *self._discards)
        for name in list(self._outputs):
            self._close_output(name)
        for counters in self._counters.values():
            counters.close()
        self._counters.clear()
        # The host-directory threads stay: a creation that finished during `close` may still be destroyed.

    def _config(self, memory_mb: int, host_dir: Path, image: str, egress: Egress = "none") -> dict[str, Any]:
        heap_mb = memory_mb * self._heap_factor
        host_config: dict[str, Any] = {
            "NetworkMode": "none",
            "ReadonlyRootfs": True,
            # Docker adds noexec unless told otherwise; binary actions may dlopen native addons they
            # unpacked into /tmp, and the bind-mounted run dir is executable anyway.
            "Tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,size={self._tmp_size_mb}m"},
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            "Memory": memory_mb * 1024 * 1024,
            "MemorySwap": memory_mb * 1024 * 1024,
            "PidsLimit": self._pids_limit,
            "Ulimits": [{"Name": "nofile", "Soft": self._nofile, "Hard": self._nofile}],
            "Binds": [f"{host_dir}:{RUN_DIR_IN_IMAGE}"],
            # stdout and stderr reach the gateway through the host directory's FIFOs; Docker keeps no copy
            # of what the runner writes before it takes them (nothing, unless it fails to start).
            "LogConfig": {"Type": "none", "Config": {}},
            "AutoRemove": False,
        }
        if self._cpu_shares is not None:
            host_config["CpuShares"] = self._cpu_shares
        api = egress != "none" and self._api_dir is not None
        if api:
            host_config["Binds"].append(f"{self._api_dir}:{API_DIR_IN_IMAGE}:ro")
        return {
            "Env": [f"WHISKLET_OUTPUT_DIR={RUN_DIR_IN_IMAGE}", *(["WHISKLET_API=1"] if api else [])],
            "Image": image,
            # The heap limit sits far above the memory limit, so the kernel's OOM kill (which the
            # engine reports as OOMKilled), not V8's own heap abort, ends a memory hog.
            "Cmd": [RUNNER_ARGV[0], f"--max-old-space-size={heap_mb}", *RUNNER_ARGV[1:]],
            "User": f"{RUNNER_UID}:{RUNNER_GID}",
            "Labels": {
                SANDBOX_LABEL: self._scope,
                INSTANCE_LABEL: self._instance,
                MEMORY_LABEL: str(memory_mb),
            },
            "HostConfig": host_config,
        }

    async def _wait_for_runner(self, container_id: str, name: str, socket_path: Path) -> None:
        """Wait until the runner answers its warm-up request; the engine is asked every `_STATE_CHECK_S`
        whether the container is still running."""
        loop = asyncio.get_running_loop()
        next_state_check = loop.time() + _STATE_CHECK_S

        async def exited() -> str | None:
            nonlocal next_state_check
            if loop.time() < next_state_check:
                return None
            next_state_check = loop.time() + _STATE_CHECK_S
            with engine_errors(f"inspecting {name}"):
                state = (await self._docker.containers.get(container_id))["State"]
            if state["Running"]:
                return None
            return (f"the runner in {name} exited with code {state['ExitCode']} before answering"
                    + (" (out of memory)" if state["OOMKilled"] else ""))

        await wait_for_runner(name, socket_path, self._start_timeout_s, exited, poll_s=_POLL_S)

    async def _state(self, sandbox: Sandbox) -> dict[str, Any] | None:
        with engine_errors(f"inspecting {sandbox.name}"):
            try:
                state: dict[str, Any] = (await self._docker.containers.get(sandbox.id))["State"]
                return state
            except aiodocker.DockerError as exc:
                if exc.status == 404:
                    return None
                raise

    async def _remove(self, container: str, doing: str) -> None:
        """Force-remove `container` (an id or a name); a missing container is fine.

        One forced DELETE (SIGKILL, then remove) measured as fast as a separate kill before it
        (~75 vs ~83 ms p50 here) and saves a round trip.
        """
        with engine_errors(doing):
            try:
                await self._docker.containers.container(container).delete(force=True, v=True)
            except aiodocker.DockerError as exc:
                if exc.status == 404 or (exc.status == 409 and "already in progress" in exc.message):
                    return
                raise

    async def _launch(self, name: str, memory_mb: int, host_dir: Path, image: str, egress: Egress) -> str:
        """Make the host directory and its output FIFOs, create the container, start it; return its id."""
        await self._in_host_dir_thread(make_host_dir, self._run_dir, host_dir, self._run_dir_mb)
        self._outputs[name] = PipeOutput(*await self._in_host_dir_thread(open_output_fifos, host_dir))
        with engine_errors(f"creating container {name}"):
            container = await self._docker.containers.create(self._config(memory_mb, host_dir, image, egress),
                                                             name=name)
        with engine_errors(f"starting container {name}"):
            await container.start()
        return container.id

    def _close_output(self, name: str) -> None:
        output = self._outputs.pop(name, None)
        if output is not None:
            output.close()

    async def _in_host_dir_thread(self, work: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._host_dirs, work, *args)

    async def _discard(self, name: str, launch: asyncio.Future[str]) -> None:
        """Remove a half-created sandbox once its launch has settled; never raises, so that the
        failure that got it discarded is the one reported."""
        await asyncio.wait([launch])
        if not launch.cancelled():
            launch.exception()  # retrieved here: the caller saw it, or was cancelled before it came
        with contextlib.suppress(SandboxError, OSError):
            await self._remove(name, f"discarding {name}")
        self._close_output(name)
        with contextlib.suppress(OSError):
            await self._in_host_dir_thread(remove_host_dir, self._run_dir / name)


def _cgroupfs_v1(root: Path) -> tuple[Path, Path] | None:
    """The engine's v1 `cpuacct` and `memory` parents (its cgroupfs driver, default parent `docker`),
    None where they are absent (systemd cgroup driver, cgroup v2)."""
    hierarchies = (root / "cpuacct" / "docker", root / "memory" / "docker")
    return hierarchies if all(path.is_dir() for path in hierarchies) else None
