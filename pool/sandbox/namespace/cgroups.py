"""A sandbox's cgroups: made before its runner starts, read and removed when it is destroyed.

Two layouts behind one `CgroupLayout` contract:
- v1 (hybrid hosts such as this one): one directory per sandbox in each of the `memory`, `pids` and
  `cpuacct` hierarchies, `<hierarchy>/whisklet/<scope>/<sandbox>`;
- v2 (the default on current distributions): one directory `whisklet/<scope>/<sandbox>` with `memory.max`,
  `memory.swap.max`, `pids.max`, killed through `cgroup.kill`, OOM kills read from `memory.events`.

`scope` is the digest of one data directory: `sweep` removes only what a Whisklet with the same data
directory left, never another one's (`owner.py` decides which other scopes are abandoned). Everything
here is blocking file work on cgroupfs: call it from a thread. The root is a parameter so the file
operations are tested against a temporary directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pool.sandbox.usage import UsageCounters, cpu_ms_v1, cpu_ms_v2, read_int

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "whisklet"
_V1_HIERARCHIES = ("memory", "pids", "cpuacct")
_V2_CONTROLLERS = ("memory", "pids", "cpu")


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    memory_mb: int
    pids_max: int


@dataclass(frozen=True, slots=True)
class CgroupUsage:
    """What a sandbox used, read from its cgroup just before it is removed."""

    oom_kills: int
    cpu_ms: float
    peak_memory_bytes: int | None  # None where the kernel keeps no peak (v2 before 5.19)


class CgroupLayout(Protocol):
    """The cgroups of the sandboxes of one scope.

    1. `create` makes the sandbox's cgroups with its limits set; on failure it removes what it made.
    2. `procs_files` are the files a process writes its own pid to, to join them before it execs.
    3. `kill` SIGKILLs every process in them but `spare`; `empty` says whether any is left.
    4. `counters` opens the sandbox's CPU and peak-memory counters once it is ready (`UsageCounters`: what
       an activation used is read from them when its run ends); None once removed.
    5. `usage` reads OOM kills, CPU time and peak memory (None once removed); `remove` deletes the sandbox's cgroups and is
       harmless to repeat. `sweep` removes every sandbox cgroup of this scope, killing what is inside;
       `release` removes the scope's own
       directories once they hold no sandbox.
    """

    def create(self, name: str, limits: CgroupLimits) -> None: ...

    def procs_files(self, name: str) -> list[str]: ...

    def kill(self, name: str, spare: int | None = None) -> None: ...

    def empty(self, name: str) -> bool: ...

    def counters(self, name: str) -> UsageCounters | None: ...

    def usage(self, name: str) -> CgroupUsage | None: ...

    def remove(self, name: str) -> None: ...

    def sweep(self) -> int: ...

    def release(self) -> None: ...


def detect_version(root: Path = CGROUP_ROOT) -> int | None:
    """1 where the v1 memory, pids and cpuacct hierarchies are mounted, 2 on a pure v2 host, else None."""
    if all((root / h / "cgroup.procs").exists() for h in _V1_HIERARCHIES):
        return 1
    if (root / "cgroup.controllers").exists():
        return 2
    return None


def layout(version: int, scope: str, root: Path = CGROUP_ROOT) -> CgroupLayout:
    return CgroupV1(root, scope) if version == 1 else CgroupV2(root, scope)


def scopes(version: int, root: Path = CGROUP_ROOT) -> set[str]:
    """The scopes that have a directory under Whisklet's cgroup parent (on v1, in any hierarchy)."""
    parents = [root / h / PARENT for h in _V1_HIERARCHIES] if version == 1 else [root / PARENT]
    return {entry.name for parent in parents for entry in _children(parent)}


class CgroupV1:
    """cgroup v1: `memory/`, `pids/` and `cpuacct/` directories per sandbox (see the module docstring)."""

    def __init__(self, root: Path, scope: str) -> None:
        self._scopes = [root / h / PARENT / scope for h in _V1_HIERARCHIES]

    def create(self, name: str, limits: CgroupLimits) -> None:
        memory, pids, _ = dirs = [scope / name for scope in self._scopes]
        made: list[Path] = []
        try:
            for directory in dirs:
                directory.mkdir(parents=True)
                made.append(directory)
            limit = str(limits.memory_mb * 1024 * 1024)
            _write(memory / "memory.limit_in_bytes", limit)
            if (memory / "memory.memsw.limit_in_bytes").exists():  # absent without swap accounting
                _write(memory / "memory.memsw.limit_in_bytes", limit)  # swap included, as Docker's MemorySwap
            _write(pids / "pids.max", str(limits.pids_max))
        except BaseException:
            for directory in made:
                _rmdir(directory)
            raise

    def procs_files(self, name: str) -> list[str]:
        return [str(scope / name / "cgroup.procs") for scope in self._scopes]

    def kill(self, name: str, spare: int | None = None) -> None:
        _kill_listed(self._scopes[1] / name, spare)

    def empty(self, name: str) -> bool:
        return all(not _pids(scope / name) for scope in self._scopes)

    def counters(self, name: str) -> UsageCounters | None:
        memory, _, cpuacct = (scope / name for scope in self._scopes)
        return UsageCounters.open(cpuacct / "cpuacct.usage", cpu_ms_v1, memory / "memory.max_usage_in_bytes")

    def usage(self, name: str) -> CgroupUsage | None:
        memory, _, cpuacct = (scope / name for scope in self._scopes)
        if not memory.is_dir():
            return None
        return CgroupUsage(
            oom_kills=_keyed(memory / "memory.oom_control").get("oom_kill", 0),
            cpu_ms=cpu_ms_v1((_read(cpuacct / "cpuacct.usage") or "").encode()) or 0.0,
            peak_memory_bytes=read_int(memory / "memory.max_usage_in_bytes"),
        )

    def remove(self, name: str) -> None:
        for scope in self._scopes:
            _rmdir(scope / name)

    def release(self) -> None:
        for scope in self._scopes:
            with contextlib.suppress(OSError):  # still holds a sandbox (or was never made): kept
                os.rmdir(scope)

    def sweep(self) -> int:
        names = {entry.name for scope in self._scopes for entry in _children(scope)}
        for name in names:
            _kill_and_remove(self, name)
        return len(names)


class CgroupV2:
    """cgroup v2: one directory per sandbox under `whisklet/<scope>/` (see the module docstring)."""

    def __init__(self, root: Path, scope: str) -> None:
        self._root = root
        self._scope = root / PARENT / scope

    def create(self, name: str, limits: CgroupLimits) -> None:
        self._delegate()
        directory = self._scope / name
        directory.mkdir()
        try:
            limit = str(limits.memory_mb * 1024 * 1024)
            _write(directory / "memory.max", limit)
            _write(directory / "memory.swap.max", "0")  # v2 counts swap apart: none, so swap is included
            _write(directory / "pids.max", str(limits.pids_max))
        except BaseException:
            self.remove(name)
            raise

    def procs_files(self, name: str) -> list[str]:
        return [str(self._scope / name / "cgroup.procs")]

    def kill(self, name: str, spare: int | None = None) -> None:
        if spare is not None:
            _kill_listed(self._scope / name, spare)
            return
        with contextlib.suppress(FileNotFoundError):
            _write(self._scope / name / "cgroup.kill", "1")

    def empty(self, name: str) -> bool:
        events = _keyed(self._scope / name / "cgroup.events")
        return events.get("populated", 0) == 0

    def counters(self, name: str) -> UsageCounters | None:
        directory = self._scope / name
        return UsageCounters.open(directory / "cpu.stat", cpu_ms_v2, directory / "memory.peak")  # peak: 5.19+

    def usage(self, name: str) -> CgroupUsage | None:
        directory = self._scope / name
        if not directory.is_dir():
            return None
        return CgroupUsage(
            oom_kills=_keyed(directory / "memory.events").get("oom_kill", 0),
            cpu_ms=cpu_ms_v2((_read(directory / "cpu.stat") or "").encode()) or 0.0,
            peak_memory_bytes=read_int(directory / "memory.peak"),
        )

    def remove(self, name: str) -> None:
        _rmdir(self._scope / name)

    def release(self) -> None:
        if any(_children(self._scope)):
            return
        with contextlib.suppress(OSError):
            _rmdir(self._scope)

    def sweep(self) -> int:
        names = [entry.name for entry in _children(self._scope)]
        for name in names:
            _kill_and_remove(self, name)
        return len(names)

    def _delegate(self) -> None:
        """Make `whisklet/<scope>/` and enable the controllers for the sandboxes below it."""
        if (self._scope / "cgroup.subtree_control").exists():
            return
        enable = " ".join(f"+{c}" for c in _V2_CONTROLLERS)
        for parent in (self._root, self._root / PARENT, self._scope):
            parent.mkdir(exist_ok=True)
            _write(parent / "cgroup.subtree_control", enable)


_SWEEP_WAIT_S = 2.0
_SWEEP_POLL_S = 0.01
_BUSY_WAIT_S = 1.0


def _kill_and_remove(cgroups: CgroupLayout, name: str) -> None:
    """Kill what is left in a sandbox's cgroups and remove them, waiting at most `_SWEEP_WAIT_S`."""
    deadline = time.monotonic() + _SWEEP_WAIT_S
    cgroups.kill(name)
    while not cgroups.empty(name) and time.monotonic() < deadline:
        time.sleep(_SWEEP_POLL_S)  # blocking by contract: this module runs in a thread
        cgroups.kill(name)
    cgroups.remove(name)


def _kill_listed(directory: Path, spare: int | None) -> None:
    """SIGKILL every process `cgroup.procs` lists but `spare`. The pids limit bounds forks, so repeated
    passes converge; a fork racing one pass is caught by the next (callers poll `empty`)."""
    for pid in _pids(directory):
        if pid != spare:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # cgroupfs files exist; tests create them
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _keyed(path: Path) -> dict[str, int]:
    """`key value` lines (memory.events, memory.oom_control, cpu.stat, cgroup.events) as a dict."""
    values: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def _pids(directory: Path) -> list[int]:
    return [int(line) for line in (_read(directory / "cgroup.procs") or "").split()]


def _children(scope: Path) -> list[Path]:
    try:
        return [entry for entry in scope.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except FileNotFoundError:
        return []


def _rmdir(directory: Path) -> None:
    """Remove a cgroup directory (cgroupfs removes its interface files with it); missing is fine.

    cgroupfs answers EBUSY while processes are left, and for a moment after `cgroup.procs` went empty
    (a killed process still exiting): retried for at most `_BUSY_WAIT_S`. Only a plain directory standing
    in for cgroupfs (the tests' temporary root) is ever "not empty": its files are removed first.
    """
    deadline = time.monotonic() + _BUSY_WAIT_S
    while True:
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(_SWEEP_POLL_S)  # blocking by contract: this module runs in a thread
                continue
            if exc.errno != errno.ENOTEMPTY:
                raise
            break
    for entry in directory.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.unlink()
    os.rmdir(directory)
