"""The owner record of one data directory's sandboxes: held while its Whisklet lives, swept once it is gone.

Every Whisklet that opens the namespace driver holds a shared `flock` on `<host_root>/<scope>/owner` (the
file names its pid, for people) until it stops. The kernel drops the lock when the process ends, however
it ends, so a lock nobody holds means a gateway that is gone, with no pid that could be reused. A sweeper
takes it exclusively without waiting, and only then kills and removes that scope's sandbox cgroups and
host directories and unlinks the record. A scope without a record (from a Whisklet older than records, or
not Whisklet's at all) is never touched. Everything here blocks: call it from a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

from pool.sandbox.hostdir import remove_leftover_dirs
from pool.sandbox.namespace.cgroups import CGROUP_ROOT, layout, scopes

log = logging.getLogger("whisklet.pool")

RECORD = "owner"
_HOLD_POLL_S = 0.01


class OwnerBusy(Exception):
    """The owner record stayed locked by a sweep past the wait: the message says whose scope."""


def hold(home: Path, wait_s: float) -> int:
    """Take a shared lock on `home`'s owner record (made if missing) and write this pid in it; returns the
    descriptor, which the caller keeps open for as long as its sandboxes may live.

    Waits at most `wait_s` for a sweep of the same scope that holds it exclusively; raises `OwnerBusy`.
    """
    path = home / RECORD
    deadline = time.monotonic() + wait_s
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise OwnerBusy(f"{path} is being swept by another Whisklet for longer than {wait_s:g} s") from None
            time.sleep(_HOLD_POLL_S)  # blocking by contract: this module runs in a thread
            continue
        if _is_current(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)  # a sweeper unlinked it between our open and our lock: take the new one


def release(home: Path, fd: int) -> None:
    """Give up the owner record; the last Whisklet of the scope unlinks it."""
    try:
        with contextlib.suppress(BlockingIOError):  # another live Whisklet of this scope still holds it
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _is_current(fd, home / RECORD):
                os.unlink(home / RECORD)
    finally:
        os.close(fd)


def sweep_if_abandoned(home: Path, version: int, cgroup_root: Path = CGROUP_ROOT) -> int | None:
    """Kill and remove the sandboxes of `home`'s scope if its record exists and no live Whisklet holds it.

    Returns how many sandbox cgroups were removed; None when the scope was left alone (no record, or its
    owner is alive). The record is unlinked only once everything was removed, so a failed sweep is retried
    by the next one; then `home`'s empty directories go too (`remove_home`).
    """
    path = home / RECORD
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None  # no record, or not a plain file of ours (a link is not followed): never touched
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its Whisklet is alive
        if not _is_current(fd, path):
            return None  # swept and unlinked meanwhile
        cgroups = layout(version, home.name, cgroup_root)
        removed = cgroups.sweep()
        remove_leftover_dirs(home / "run")
        cgroups.release()
        os.unlink(path)
    finally:
        os.close(fd)
    remove_home(home)
    return removed


def sweep_abandoned(host_root: Path, version: int, own_scope: str, cgroup_root: Path = CGROUP_ROOT) -> int:
    """Sweep every scope with sandbox cgroups on this host whose Whisklet is gone (`sweep_if_abandoned`),
    but `own_scope`. Returns how many sandboxes were removed; a scope that fails is logged and kept."""
    removed = 0
    for scope in sorted(scopes(version, cgroup_root) - {own_scope}):
        home = host_root / scope
        try:
            count = sweep_if_abandoned(home, version, cgroup_root)
        except OSError as exc:
            log.warning("removing the sandboxes left by the stopped Whisklet of %s failed (%s): kept for the next start",
                        home, exc)
            continue
        removed += count or 0
    return removed


def remove_home(home: Path) -> None:
    """Remove a data directory's (empty) directories under the host root; what is not empty stays."""
    for directory in (home / "run", home / "api", home):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _is_current(fd: int, path: Path) -> bool:
    """Whether `fd` is still the file at `path` (a sweeper unlinks records while holding them)."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)
