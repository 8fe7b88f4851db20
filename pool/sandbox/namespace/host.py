"""Whether this host can run the namespace driver, and opening that driver with its runtime tree.

`missing` lists what the host lacks, each with its fix; `namespace_driver` holds the data directory's owner
record, sweeps the sandboxes of Whisklets that are gone (`owner.py`), starts the reaper that sweeps this
one's if it dies (`reaper.py`), builds a runtime tree per kind, compiles the seccomp filter, and yields a
ready `NamespaceDriver`, closed on exit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pool.runtime.nodejs.files import RUNNER_GID, RUNNER_PATH, RUNNER_UID
from pool.runtime.nodejs.kinds import RUNTIMES, NodeRuntime, modules_dir, node_binary
from pool.sandbox.docker.engine import DockerSettings
from pool.sandbox.driver import SandboxError
from pool.sandbox.hostdir import make_api_dir
from pool.sandbox.namespace import reaper
from pool.sandbox.namespace.cgroups import CGROUP_ROOT, PARENT, detect_version, layout
from pool.sandbox.namespace.driver import NamespaceDriver
from pool.sandbox.namespace.owner import OwnerBusy, hold, release, remove_home, sweep_abandoned
from pool.sandbox.namespace.runtime import ensure_tree
from pool.sandbox.namespace.seccomp import SeccompUnavailable, compile_filter

HOST_ROOT = Path("/var/lib/whisklet")
"""Runtime trees live in `<HOST_ROOT>/runtime/` (shared: named by content), the sandboxes' host
directories in `<HOST_ROOT>/<scope>/run/` (removed when empty at stop), not in the data
directory: bubblewrap runs as the runner's uid and resolves every bind source by path, so each must be
reachable by that uid, and a data directory under /root is not. Every directory on the way is root's,
0711 (the tree 0755), so the uid can pass through but list nothing."""
_PROBE_TIMEOUT_S = 10.0
_OWNER_WAIT_S = 30.0  # how long a start waits for another Whisklet's sweep of the same data directory
log = logging.getLogger("whisklet.pool")
_USE_DOCKER = 'or set pool.driver = "docker"'


def scope_of(data_dir: str | os.PathLike[str]) -> str:
    """The digest naming one data directory's cgroups and host directories."""
    return hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:16]


def missing(cgroup_root: Path = CGROUP_ROOT) -> list[str]:
    """What this host lacks to run the namespace driver, each with its fix; empty when it can.

    Blocking (runs bubblewrap once): call it from a thread.
    """
    problems: list[str] = []
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        problems.append(f"bubblewrap is not installed: apt-get install bubblewrap {_USE_DOCKER}")
    if shutil.which("setpriv") is None:
        problems.append(f"setpriv is missing: apt-get install util-linux {_USE_DOCKER}")
    if os.geteuid() != 0:
        problems.append(f"the namespace driver makes cgroups and switches to uid {RUNNER_UID}: run Whisklet as root "
                        + _USE_DOCKER)
    version = detect_version(cgroup_root)
    if version is None:
        problems.append(f"no usable cgroup hierarchy under {cgroup_root} (v1 memory, pids and cpuacct, or v2): "
                        f"mount cgroups {_USE_DOCKER}")
    elif not _cgroup_writable(cgroup_root, version):
        problems.append(f"the cgroup hierarchy under {cgroup_root} is not writable (read-only mount, or the v2 "
                        f"memory and pids controllers are not available): run Whisklet as root on the host {_USE_DOCKER}")
    try:
        os.close(compile_filter())
    except SeccompUnavailable as exc:
        problems.append(f"{exc} {_USE_DOCKER}")
    if bwrap is not None and not problems and (why := _userns_refused(bwrap)) is not None:
        problems.append(
            f"bubblewrap cannot create a user namespace ({why}): enable unprivileged user namespaces "
            "(sysctl user.max_user_namespaces=15000; on Ubuntu also "
            f"kernel.apparmor_restrict_unprivileged_userns=0) {_USE_DOCKER}"
        )
    return problems


@asynccontextmanager
async def namespace_driver(settings: DockerSettings, data_dir: str | os.PathLike[str], host_root: Path = HOST_ROOT,
                           egress_deny: tuple[str, ...] = ()) -> AsyncIterator[NamespaceDriver]:
    """A ready namespace driver for `data_dir` (its `api_dir`, for the gateway's inside API socket, is
    `<host_root>/<scope>/api`); every sandbox it still holds is destroyed on exit.

    Raises `SandboxError` when the runtime tree cannot be built or the seccomp filter compiled.
    """
    scope = scope_of(data_dir)
    version = detect_version()
    if version is None:
        raise SandboxError("no usable cgroup hierarchy: the namespace driver cannot run here")
    home = host_root / scope
    try:
        await asyncio.to_thread(_make_home, home)
        await asyncio.to_thread(make_api_dir, home / "api")
        owner = await asyncio.to_thread(hold, home, _OWNER_WAIT_S)
    except (OSError, OwnerBusy) as exc:
        raise SandboxError(f"preparing the namespace sandbox's host directory failed: {exc}") from exc
    trees: dict[str, Path] = {}
    tree_locks: list[int] = []
    try:
        for runtime in RUNTIMES:
            try:
                tree, tree_lock = await asyncio.to_thread(
                    _ensure_kind_tree, host_root / "runtime", runtime, tuple(trees.values()))
            except (OSError, SandboxError) as exc:
                raise SandboxError(f"preparing the {runtime.kind} runtime tree failed: {exc}") from exc
            trees[runtime.kind] = tree
            tree_locks.append(tree_lock)
        async with _reaped(version, host_root, scope), _opened(settings, home, version, scope, trees, egress_deny) as driver:
            yield driver
    finally:
        for tree_lock in tree_locks:
            os.close(tree_lock)
        await asyncio.to_thread(release, home, owner)
        await asyncio.to_thread(remove_home, home)


@asynccontextmanager
async def _reaped(version: int, host_root: Path, scope: str) -> AsyncIterator[None]:
    """Sweep the sandboxes of every other data directory whose Whisklet is gone, and keep this one's reaper
    watching while the driver is open (stopped on exit: a normal stop leaves nothing to sweep)."""
    try:
        swept = await asyncio.to_thread(sweep_abandoned, host_root, version, scope)
        watch = await asyncio.to_thread(reaper.start, version, CGROUP_ROOT, host_root / scope)
    except OSError as exc:
        raise SandboxError(f"starting the namespace driver's sandbox reaper failed: {exc}") from exc
    if swept:
        log.info("removed %d sandboxes left by stopped Whisklets with other data directories", swept)
    try:
        yield
    finally:
        await asyncio.to_thread(reaper.stop, watch)


def _ensure_kind_tree(runtime_dir: Path, runtime: NodeRuntime, keep: tuple[Path, ...]) -> tuple[Path, int]:
    """The tree of `runtime`'s kind: its installed node and the installed modules. Blocking."""
    return ensure_tree(runtime_dir, node_binary(runtime), RUNNER_PATH, modules_dir(), keep)


@asynccontextmanager
async def _opened(settings: DockerSettings, home: Path, version: int, scope: str,
                  trees: dict[str, Path], egress_deny: tuple[str, ...]) -> AsyncIterator[NamespaceDriver]:
    try:
        seccomp_fd = await asyncio.to_thread(compile_filter)
        try:
            driver = NamespaceDriver(
                bwrap=shutil.which("bwrap") or "bwrap",
                runtime_trees=trees,
                run_dir=home / "run",
                cgroups=layout(version, scope),
                seccomp_fd=seccomp_fd,
                pids_limit=settings.pids_limit,
                nofile=settings.nofile,
                tmp_size_mb=settings.tmpfs_mb,
                run_dir_mb=settings.run_dir_mb,
                api_dir=home / "api",
                egress_deny=egress_deny,
            )
            try:
                yield driver
            finally:
                await driver.close()
        finally:
            os.close(seccomp_fd)
    except SeccompUnavailable as exc:
        raise SandboxError(f"compiling the namespace sandbox's seccomp filter failed: {exc}") from exc


def _make_home(home: Path) -> None:
    home.mkdir(mode=0o711, parents=True, exist_ok=True)
    for directory in (home.parent, home):
        directory.chmod(0o711)


def _cgroup_writable(root: Path, version: int) -> bool:
    if version == 1:
        return all(os.access(root / h, os.W_OK) for h in ("memory", "pids", "cpuacct"))
    controllers = (root / "cgroup.controllers").read_text().split()
    return os.access(root, os.W_OK) and {"memory", "pids"} <= set(controllers)


def _userns_refused(bwrap: str) -> str | None:
    """None when bubblewrap, as the runner's uid, can make the sandbox's namespaces; else its complaint."""
    argv = ["setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_GID}", "--clear-groups", "--", bwrap,
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", *_probe_root(),
            "--", "/usr/bin/true"]
    try:
        done = subprocess.run(argv, check=False, capture_output=True, timeout=_PROBE_TIMEOUT_S,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if done.returncode == 0 else done.stderr.decode(errors="replace").strip()[:300]


def _probe_root() -> list[str]:
    """The probe's root: `/usr` and the top-level links or directories beside it, never `/` itself.

    Binding `/` recursively walks every mount below it, and fails when one disappears meanwhile (another
    server's sandbox directory, a container's overlay), so the probe would fail at random on a busy host.
    """
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


__all__ = ["HOST_ROOT", "PARENT", "missing", "namespace_driver", "scope_of"]
