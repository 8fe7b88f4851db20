"""The namespace sandbox driver: one runner per sandbox in bubblewrap namespaces, cgroups and seccomp.

No daemon: the gateway starts each sandbox itself. Per sandbox, in order:
1. a host directory `<run_dir>/whisklet-<id>` (0700, the runner's uid, a small tmpfs) and the sandbox's
   cgroups with their limits (`cgroups.py`);
2. one process: a `sh` entry step (root) writes its own pid into the cgroups' `cgroup.procs`, sets the
   `nofile` limit and execs `setpriv` down to uid/gid 1000 with no groups and no capabilities, which execs
   bubblewrap; bubblewrap unshares every namespace (user, PID, network, IPC, UTS, mount, cgroup), forbids
   new user namespaces, binds the shared read-only runtime tree as `/`, a fresh `/proc`, a read-only
   minimal `/dev`, a private tmpfs `/tmp` and the host directory at `/run/whisklet`, clears the
   environment, applies the seccomp filter and execs the runner, from its startup snapshot where one could
   be built (`snapshot.py`). The runner's stdout and stderr are pipes the gateway holds (`PipeOutput`);
   Egress (`Sandbox.egress`): `api` and `internet` bind the directory of the gateway's inside API socket
   read-only at `/run/whisklet-api` and tell the runner to start its API forwarder (api_proxy.js);
   `internet` also holds the runner back (`--block-fd`) until `network.py` has installed the deny routes
   in the new network namespace and attached slirp4netns to it; `none` keeps the namespace empty;
3. readiness: the runner writes one byte on its ready pipe (whose write end it inherits, named by
   `WHISKLET_READY_FD`, and closes before any tenant code runs) once its socket listens, and one warm-up
   `GET /health` answers 200 (`readiness.py`). The gateway connects to the socket only then, before any
   tenant code has run in the sandbox; the pipe's end of file without the byte is the runner's death.

Destroy SIGKILLs everything in the cgroups but bubblewrap, which reaps its PID namespace's init and exits;
it is reaped, the cgroups are emptied (bounded), OOM kills, CPU time and peak memory read, the cgroups
and the host directory removed. Every process is watched through a pidfd on the event loop: no thread waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pool.runner.client import RunnerGone
from pool.runtime.nodejs.files import (
    API_DIR_IN_IMAGE,
    RUN_DIR_IN_IMAGE,
    RUNNER_GID,
    RUNNER_IN_IMAGE,
    RUNNER_UID,
    SEARCH_PATH,
)
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.driver import Egress, ResourceUse, Sandbox, SandboxError, SandboxExit
from pool.sandbox.hostdir import (
    NAME_PREFIX,
    SOCKET_NAME,
    make_host_dir,
    remove_host_dir,
    remove_leftover_dirs,
)
from pool.sandbox.namespace import network
from pool.sandbox.namespace.cgroups import CgroupLayout, CgroupLimits, CgroupUsage
from pool.sandbox.namespace.runtime import NODE_IN_TREE
from pool.sandbox.namespace.seccomp import open_filter
from pool.sandbox.namespace.snapshot import blob_in_tree, ensure_blob
from pool.sandbox.output import PipeOutput
from pool.sandbox.readiness import READY_FD_ENV, wait_for_ready_signal
from pool.sandbox.usage import UsageCounters

log = logging.getLogger("whisklet.pool")
_EMPTY_POLL_S = 0.002
_KEPT_USAGES = 4096
_ADDRESS_CHECK_S = 1.0  # how often the host's own addresses are re-read for the deny routes
_WORKERS = 4  # the driver's own threads: a sandbox's clean-up can never stall the default executor
_T = TypeVar("_T")
# The entry step: join every cgroup named before "--", set the nofile limit, exec the rest.
_ENTRY = 'n=$1; shift; while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; ' \
         'ulimit -n "$n" || exit 125; exec "$@"'
ENTRY_FAILED = 125
# Docker's masked /proc paths: a file gets /dev/null bound over it (unopenable: user-namespace mounts are
# nodev), a directory an empty read-only tmpfs. bubblewrap's own /proc already makes sys, sysrq-trigger,
# irq and bus read-only.
MASKED_PROC = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi")


@dataclass(slots=True)
class _Running:
    """What the driver holds for one live sandbox."""

    process: subprocess.Popen[bytes]
    pidfd: int
    slirp: network.Attached | None = None  # slirp4netns, for `internet` egress
    network_pid: int = 0  # the sandbox's pid on the host, whose network namespace slirp4netns serves
    exited: asyncio.Event = field(default_factory=asyncio.Event)


class NamespaceDriver:
    """Creates and destroys namespace sandboxes; the `SandboxDriver` contract of `pool/sandbox/driver.py`.

    1. `create` returns only a sandbox whose runner answered its warm-up request; on any failure (or
       cancellation) it kills and removes what it made and raises `SandboxError`.
    2. `destroy` is harmless to repeat; it records the sandbox's OOM kills, which `exit_reason` reads
       afterwards (the last `_KEPT_USAGES` sandboxes' are kept). `resource_use` reads a live sandbox's
       CPU time since it became ready and its peak memory from counters opened then (`UsageCounters`).
    3. `remove_orphans` removes the cgroups (killing what is inside) and host directories that a killed
       Whisklet with the same data directory left (a dead gateway's reaper removes them sooner, and other
       data directories' are swept when a driver opens: `reaper.py`, `owner.py`); `close` destroys every
       sandbox still alive and waits for the clean-up of creations that failed or were cancelled.
    4. `Sandbox.output` is the runner's stdout and stderr: pipes made before it starts (`PipeOutput`),
       closed by `destroy`. Nothing is ever read from the host directory; the socket check before the
       warm-up is an `lstat`.
    5. All the driver's blocking work (host directories, cgroups, starting processes) runs on its own
       `_WORKERS` threads, never on the event loop's default executor.
    """

    def __init__(
        self,
        *,
        bwrap: str,
        runtime_trees: Mapping[str, Path],
        run_dir: str | os.PathLike[str],
        cgroups: CgroupLayout,
        seccomp_fd: int,
        pids_limit: int = 1024,
        nofile: int = 1024,
        tmp_size_mb: int = 64,
        run_dir_mb: int = 16,
        heap_factor: int = 4,
        start_timeout_s: float = 20.0,
        exit_grace_s: float = 1.0,
        empty_wait_s: float = 2.0,
        snapshot: bool = True,
        api_dir: Path | None = None,
        egress_deny: tuple[str, ...] = (),
    ) -> None:
        self._bwrap = bwrap
        self._tree_fds = {kind: os.open(tree, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                          for kind, tree in runtime_trees.items()}
        self._run_dir = Path(run_dir)
        self._cgroups = cgroups
        self._seccomp_fd = seccomp_fd
        self._pids_limit = pids_limit
        self._nofile = nofile
        self._tmp_size_mb = tmp_size_mb
        self._run_dir_mb = run_dir_mb
        self._heap_factor = heap_factor
        self._start_timeout_s = start_timeout_s
        self._exit_grace_s = exit_grace_s
        self._empty_wait_s = empty_wait_s
        self._trees = dict(runtime_trees)
        self._api_dir = api_dir
        self._egress_deny = egress_deny
        self._address_watch: asyncio.Task[None] | None = None
        self._internet_missing = network.missing()  # what the host lacks for `internet`; then it is `api`
        self._internet_warned = False
        self._masks = _masks(MASKED_PROC)
        self._snapshot = snapshot
        self._snapshots: dict[tuple[str, int], bool] = {}  # (kind, heap MB) -> whether its blob exists
        self._running: dict[str, _Running] = {}
        self._destroying: dict[str, asyncio.Future[CgroupUsage | None]] = {}
        self._usages: OrderedDict[str, CgroupUsage] = OrderedDict()
        self._counters: dict[str, UsageCounters] = {}
        self._discards: set[asyncio.Future[None]] = set()
        self._outputs: dict[str, PipeOutput] = {}
        self._threads = ThreadPoolExecutor(_WORKERS, thread_name_prefix="whisklet-sandbox")

    @property
    def api_dir(self) -> Path:
        """Where the gateway's inside API socket is to be served (bound into `api` and `internet` sandboxes)."""
        return self._api_dir if self._api_dir is not None else self._run_dir.parent / "api"

    async def create(self, memory_mb: int, kind: str = DEFAULT_KIND, egress: Egress = "none") -> Sandbox:
        """Start a sandbox of `kind` with `egress` and wait until its runner answers `GET /health` with 200."""
        if kind not in self._trees:
            raise SandboxError(f"this driver has no runtime tree for kind {kind!r}")
        name = NAME_PREFIX + secrets.token_hex(6)
        host_dir = self._run_dir / name
        out_read, out_write = os.pipe2(os.O_CLOEXEC)
        err_read, err_write = os.pipe2(os.O_CLOEXEC)
        ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
        output = self._outputs[name] = PipeOutput(out_read, err_read)
        sandbox = Sandbox(id=name, name=name, memory_mb=memory_mb, socket_path=str(host_dir / SOCKET_NAME),
                          output=output, created_at=time.monotonic(), kind=kind, egress=egress)
        if egress == "internet" and self._internet_missing and not self._internet_warned:
            self._internet_warned = True
            log.warning("egress = internet is not available (%s): those sandboxes reach only Whisklet's API "
                        "(egress = api)", self._internet_missing)
        if self._network_of(egress) == "internet" and self._address_watch is None:
            self._address_watch = asyncio.create_task(self._watch_host_addresses(), name="sandbox-address-watch")
        # Shielded: a cancelled create must still learn whether the process was started, to remove it.
        launch = asyncio.ensure_future(self._launch(sandbox, out_write, err_write, ready_write))
        try:
            await asyncio.shield(launch)
            await self._wait_for_runner(sandbox, ready_read)
            await self._mark_ready(name)
        except BaseException as exc:
            discard = asyncio.ensure_future(self._discard(sandbox, launch))
            self._discards.add(discard)
            discard.add_done_callback(self._discards.discard)
            await asyncio.shield(discard)
            if isinstance(exc, (OSError, RunnerGone, subprocess.SubprocessError)):
                raise SandboxError(f"creating sandbox {name} failed: {exc!r}") from exc
            raise
        finally:
            os.close(ready_read)
        return sandbox

    async def destroy(self, sandbox: Sandbox) -> None:
        """Kill the sandbox, reap it, wait for its cgroups to empty, read its resource use, remove its
        cgroups and host directory. Harmless to repeat; concurrent calls share one destroy."""
        await self._destroy_named(sandbox.name)

    async def _destroy_named(self, name: str) -> None:
        pending = self._destroying.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._destroy(name))
            self._destroying[name] = pending
            pending.add_done_callback(lambda _: self._destroying.pop(name, None))
        usage = await asyncio.shield(pending)
        if usage is not None:
            self._usages[name] = usage
            while len(self._usages) > _KEPT_USAGES:
                self._usages.popitem(last=False)

    async def resource_use(self, sandbox: Sandbox) -> ResourceUse | None:
        """CPU time since the sandbox became ready and its peak memory, read from its cgroups' counters
        now; None once it is destroyed."""
        counters = self._counters.get(sandbox.name)
        return None if counters is None else counters.read()  # two preads: see pool/sandbox/usage.py

    async def exit_reason(self, sandbox: Sandbox) -> SandboxExit:
        """Why the runner stopped answering: a live runner gets `exit_grace_s` to exit first; OOM kills
        are read from its memory cgroup (or from what destroy recorded)."""
        running = self._running.get(sandbox.name)
        if running is None:
            usage = self._usages.get(sandbox.name)
            return SandboxExit(running=False, oom_killed=bool(usage and usage.oom_kills), exit_code=None)
        if not running.exited.is_set() and self._exit_grace_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._exit_grace_s):
                    await running.exited.wait()
        usage = await self._in_thread(self._cgroups.usage, sandbox.name)
        code = running.process.returncode
        return SandboxExit(running=code is None, oom_killed=bool(usage and usage.oom_kills), exit_code=code)

    async def remove_orphans(self) -> int:
        """Remove the cgroups and host directories a killed Whisklet with this data directory left.
        Returns the number of sandboxes whose cgroups were removed."""
        removed = await self._in_thread(self._cgroups.sweep)
        await self._in_thread(remove_leftover_dirs, self._run_dir)
        return removed

    async def close(self) -> None:
        """Destroy every sandbox still alive and wait for destroys in flight."""
        if self._address_watch is not None:
            self._address_watch.cancel()
            await asyncio.gather(self._address_watch, return_exceptions=True)
        alive = [self._destroy_named(name) for name in list(self._running)]
        await asyncio.gather(*self._discards)
        await asyncio.gather(*alive, *self._destroying.values())
        for fd in self._tree_fds.values():
            os.close(fd)
        self._tree_fds.clear()
        await self._in_thread(self._cgroups.release)
        self._threads.shutdown(wait=False)

    def _reap_slirp(self, slirp: network.Attached) -> None:
        """Kill a sandbox's slirp4netns now and reap it once it exited (seen through its pidfd on the
        event loop): its exit waits for the kernel to remove `tap0`, which no destroy needs to wait for."""
        network.kill(slirp)
        try:
            pidfd = os.pidfd_open(slirp.process.pid)
        except ProcessLookupError:
            slirp.process.poll()
            return
        loop = asyncio.get_running_loop()
        reaped: asyncio.Future[None] = loop.create_future()

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            slirp.process.poll()
            reaped.set_result(None)

        loop.add_reader(pidfd, exited)
        self._discards.add(reaped)
        reaped.add_done_callback(self._discards.discard)

    async def _watch_host_addresses(self) -> None:
        """Every `_ADDRESS_CHECK_S`, re-read the networks `internet` sandboxes must not reach (the host's
        own addresses change: an interface comes up) and add what is new to every live sandbox's deny
        routes, so a sandbox prewarmed before the change cannot reach the new address either."""
        applied = set(await self._in_thread(lambda: self._deny))
        while True:
            await asyncio.sleep(_ADDRESS_CHECK_S)
            deny = await self._in_thread(lambda: self._deny)
            if set(deny) <= applied:
                continue
            for name, running in list(self._running.items()):
                if running.network_pid and not running.exited.is_set():
                    try:
                        await self._in_thread(network.add_deny_routes, running.network_pid, deny, self._start_timeout_s)
                    except SandboxError as error:  # it is being destroyed; else it is retired below
                        log.warning("updating the deny routes of %s failed (%s); destroying it", name, error)
                        self._discards.add(discard := asyncio.ensure_future(self._destroy_named(name)))
                        discard.add_done_callback(self._discards.discard)
            applied |= set(deny)

    async def _mark_ready(self, name: str) -> None:
        """Open the sandbox's usage counters: `resource_use` counts its CPU time from here, so the
        runtime's start-up is not charged to the activation."""
        counters = await self._in_thread(self._cgroups.counters, name)
        if counters is not None:
            self._counters[name] = counters

    async def _in_thread(self, work: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)

    async def _discard(self, sandbox: Sandbox, launch: asyncio.Future[None]) -> None:
        """Destroy a half-created sandbox once its launch has settled; never raises, so that the failure
        that got it discarded is the one reported."""
        await asyncio.wait([launch])
        if not launch.cancelled():
            launch.exception()  # retrieved here: the caller saw it, or was cancelled before it came
        with contextlib.suppress(SandboxError, OSError):
            await self.destroy(sandbox)

    async def _launch(self, sandbox: Sandbox, out_write: int, err_write: int, ready_write: int) -> None:
        limits = CgroupLimits(memory_mb=sandbox.memory_mb, pids_max=self._pids_limit)
        try:
            running = await self._in_thread(self._start, sandbox, limits, out_write, err_write, ready_write)
        finally:
            os.close(out_write)  # the runner holds its own copies now (or never started)
            os.close(err_write)
            os.close(ready_write)
        self._running[sandbox.name] = running
        loop = asyncio.get_running_loop()

        def exited() -> None:
            loop.remove_reader(running.pidfd)
            running.process.poll()  # reaps it: the pidfd is readable only once it exited
            running.exited.set()

        loop.add_reader(running.pidfd, exited)

    def _start(self, sandbox: Sandbox, limits: CgroupLimits, out_write: int, err_write: int, ready_write: int) -> _Running:
        """Make the host directory and cgroups, start the process. Blocking: runs in a thread."""
        host_dir = self._run_dir / sandbox.name
        make_host_dir(self._run_dir, host_dir, self._run_dir_mb)
        self._run_dir.chmod(0o711)  # bubblewrap, as the runner's uid, must reach its own directory
        self._cgroups.create(sandbox.name, limits)
        # Directories reach bubblewrap as descriptors opened here without following links; bubblewrap,
        # as the runner's uid, binds the directory a descriptor names (so its path must be traversable).
        host_fd = os.open(host_dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        heap_mb = sandbox.memory_mb * self._heap_factor
        if self._snapshot and (sandbox.kind, heap_mb) not in self._snapshots:
            self._snapshots[sandbox.kind, heap_mb] = ensure_blob(self._trees[sandbox.kind], _node_flags(heap_mb), heap_mb)
        tree_fd = self._tree_fds[sandbox.kind]
        seccomp = open_filter(self._seccomp_fd)
        # `internet`: bubblewrap tells its child's pid on `info`, and waits on `block` before the runner starts.
        internet = self._network_of(sandbox.egress) == "internet"
        info = os.pipe2(os.O_CLOEXEC) if internet else None
        block = os.pipe2(os.O_CLOEXEC) if internet else None
        held = (info[1], block[0]) if info and block else ()
        try:
            process = subprocess.Popen(
                self._argv(sandbox, host_fd, seccomp, ready_write, held), stdin=subprocess.DEVNULL, stdout=out_write,
                stderr=err_write, pass_fds=(seccomp, host_fd, tree_fd, ready_write, *held), env={"PATH": SEARCH_PATH},
                start_new_session=True,
            )
        finally:
            for fd in (host_fd, seccomp, *held):
                os.close(fd)
        running = _Running(process=process, pidfd=os.pidfd_open(process.pid))
        if info and block:
            try:
                child_pid = network.read_child_pid(info[0], self._start_timeout_s)
                running.slirp = network.attach(child_pid, self._deny, self._start_timeout_s)
                running.network_pid = child_pid
                os.write(block[1], b"1")
            except BaseException:
                if running.slirp is not None:
                    network.stop(running.slirp)
                process.kill()
                process.wait()
                os.close(running.pidfd)
                raise
            finally:
                os.close(info[0])
                os.close(block[1])
        return running

    def _argv(self, sandbox: Sandbox, host_fd: int, seccomp_fd: int, ready_fd: int,
              network_fds: tuple[int, ...]) -> list[str]:
        heap_mb = sandbox.memory_mb * self._heap_factor
        # The heap limit sits far above the memory limit, so the kernel's OOM kill (reported as such),
        # not V8's own heap abort, ends a memory hog.
        if self._snapshots.get((sandbox.kind, heap_mb)):
            node = [NODE_IN_TREE, "--snapshot-blob", blob_in_tree(heap_mb), *_node_flags(heap_mb)]
        else:
            node = [NODE_IN_TREE, *_node_flags(heap_mb), RUNNER_IN_IMAGE]
        return [
            "/bin/sh", "-c", _ENTRY, "whisklet-entry", str(self._nofile),
            *self._cgroups.procs_files(sandbox.name), "--",
            "setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_GID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--",
            self._bwrap,
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--as-pid-1",
            "--uid", str(RUNNER_UID), "--gid", str(RUNNER_GID), "--hostname", sandbox.name,
            "--ro-bind-fd", str(self._tree_fds[sandbox.kind]), "/",
            "--proc", "/proc", *self._masks,
            "--dev", "/dev", "--remount-ro", "/dev",
            "--size", str(self._tmp_size_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
            "--bind-fd", str(host_fd), RUN_DIR_IN_IMAGE,
            *(["--info-fd", str(network_fds[0]), "--block-fd", str(network_fds[1])] if network_fds else []),
            "--chdir", "/tmp", "--clearenv", "--setenv", "PATH", SEARCH_PATH, "--setenv", "HOME", "/tmp",
            "--setenv", READY_FD_ENV, str(ready_fd),  # the runner deletes it and closes the descriptor
            *self._api_args(sandbox.egress),  # after --clearenv, which bubblewrap applies where it stands
            "--cap-drop", "ALL", "--seccomp", str(seccomp_fd),
            "--", *node,
        ]

    def _network_of(self, egress: Egress) -> Egress:
        """The network a sandbox asked to have `egress` gets: `internet` is `api` where the host lacks
        slirp4netns (a warning said so once)."""
        return "api" if egress == "internet" and self._internet_missing else egress

    def _api_args(self, egress: Egress) -> list[str]:
        """bubblewrap's arguments giving a sandbox Whisklet's API (egress `api` and `internet`)."""
        if egress == "none" or self._api_dir is None:
            return []
        return ["--ro-bind", str(self._api_dir), API_DIR_IN_IMAGE, "--setenv", "WHISKLET_API", "1"]

    @property
    def _deny(self) -> list[str]:
        """The networks an `internet` sandbox must not reach, the host's addresses read now."""
        return network.denied_networks(self._egress_deny)

    async def _wait_for_runner(self, sandbox: Sandbox, ready_read: int) -> None:
        """Wait until the runner says on its ready pipe that it listens and answers its warm-up request;
        the pipe's end of file (its death) ends the wait at once."""
        running = self._running[sandbox.name]

        async def exited() -> str | None:
            return await self._died_before_answering(sandbox, running) if running.exited.is_set() else None

        await wait_for_ready_signal(sandbox.name, Path(sandbox.socket_path), self._start_timeout_s, exited, ready_read,
                                    wake=running.exited)

    async def _died_before_answering(self, sandbox: Sandbox, running: _Running) -> str:
        code = running.process.returncode
        usage = await self._in_thread(self._cgroups.usage, sandbox.name)
        stderr = b""
        with contextlib.suppress(OSError, TimeoutError):
            while len(stderr) < 2000 and (chunk := await asyncio.wait_for(sandbox.output.read(), 0.5)):
                if chunk[0] == "stderr":
                    stderr += chunk[1]
        why = "the sandbox could not be entered (cgroups or nofile)" if code == ENTRY_FAILED else f"exit code {code}"
        return (f"the runner in {sandbox.name} exited before answering ({why})"
                + (" (out of memory)" if usage and usage.oom_kills else "")
                + (f": {stderr[:2000].decode(errors='replace').strip()}" if stderr else ""))

    async def _destroy(self, name: str) -> CgroupUsage | None:
        running = self._running.pop(name, None)
        if (counters := self._counters.pop(name, None)) is not None:
            counters.close()
        if running is not None and not running.exited.is_set():
            await self._kill(name, running)
        if running is not None and running.slirp is not None:
            self._reap_slirp(running.slirp)
        output = self._outputs.pop(name, None)
        if output is not None:
            output.close()
        usage, left = await self._in_thread(self._empty_and_remove, name)
        if running is not None:
            if not running.exited.is_set():
                asyncio.get_running_loop().remove_reader(running.pidfd)
                await self._in_thread(_reap, running.process, self._empty_wait_s)
            os.close(running.pidfd)
        if left:
            raise SandboxError(f"sandbox {name} still had processes after {self._empty_wait_s:g} s; "
                               "its cgroups are kept and removed at the next start")
        return usage

    async def _kill(self, name: str, running: _Running) -> None:
        """Kill everything inside, then let bubblewrap reap its PID namespace's init and exit.

        bubblewrap itself is killed only if it does not exit within `empty_wait_s`: killed first, it
        would leave that init to the host's init to reap.
        """
        await self._in_thread(self._cgroups.kill, name, running.process.pid)
        try:
            async with asyncio.timeout(self._empty_wait_s):
                await running.exited.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(running.pidfd, signal.SIGKILL)

    def _empty_and_remove(self, name: str) -> tuple[CgroupUsage | None, bool]:
        """Kill until the cgroups are empty (bounded), read the usage, remove cgroups and host directory.
        Returns the usage (None if the cgroups were already gone) and whether processes were left."""
        deadline = time.monotonic() + self._empty_wait_s
        usage: CgroupUsage | None = None
        try:
            while not self._cgroups.empty(name):
                if time.monotonic() >= deadline:
                    return None, True
                self._cgroups.kill(name)
                time.sleep(_EMPTY_POLL_S)  # blocking by contract: this runs in a thread
            usage = self._cgroups.usage(name)
            self._cgroups.remove(name)
        finally:
            remove_host_dir(self._run_dir / name)
        return usage, False


def _masks(paths: tuple[str, ...]) -> list[str]:
    """bubblewrap's arguments masking those of `paths` this kernel has (the host's /proc lists the same)."""
    args: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    return args


def _node_flags(heap_mb: int) -> list[str]:
    """Node's flags; a snapshot blob is built and run with exactly these."""
    return [f"--max-old-space-size={heap_mb}", "--expose-gc"]


def _reap(process: subprocess.Popen[bytes], wait_s: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(wait_s)


