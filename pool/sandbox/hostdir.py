"""Sandbox host directories: `<run_dir>/whisklet-<id>/`, where a runner's socket appears, made and removed safely.

Both drivers give each sandbox one such directory (0700, owned by the runner's uid, a small tmpfs when
the process may mount one) bound at `/run/whisklet` inside it. The gateway only ever `lstat`s the socket
in it; removal never follows a link; `remove_leftover_dirs` sweeps what a killed Whisklet left.
`make_api_dir` makes the directory of the gateway's inside API socket, which the drivers bind read-only
at `/run/whisklet-api` into sandboxes whose egress allows the API.
All functions here block: drivers call them on their own threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import stat
from pathlib import Path

from pool.runtime.nodejs.files import RUNNER_GID, RUNNER_UID

log = logging.getLogger("whisklet.pool")

NAME_PREFIX = "whisklet-"
SOCKET_NAME = "runner.sock"


def is_socket(path: Path) -> bool:
    """Whether `path` is a Unix socket itself (`lstat`: a link to one is not)."""
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def make_host_dir(run_dir: Path, host_dir: Path, size_mb: int) -> None:
    """Make `host_dir` in `run_dir` (both 0700), a tmpfs of `size_mb` when > 0, owned by the runner's uid."""
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    host_dir.mkdir(mode=0o700)
    if size_mb > 0:
        _mount_quota(host_dir, size_mb)
    try:
        os.chown(host_dir, RUNNER_UID, RUNNER_GID)
    except PermissionError:
        if os.geteuid() != RUNNER_UID:
            # Not root: let the runner's uid in; run_dir (0700) keeps other host users out.
            host_dir.chmod(0o777)


def make_api_dir(api_dir: Path) -> None:
    """Make the directory the gateway's inside API socket lives in (0711: the runner's uid may reach the
    socket in it, list nothing), bound read-only into every sandbox whose egress allows the API."""
    api_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
    api_dir.chmod(0o711)


def remove_host_dir(host_dir: Path) -> None:
    """Unmount and remove a sandbox's host directory. `host_dir` itself is the driver's (the tenant
    sees only what is inside it); inside, `rmtree`'s fd-based walk unlinks links, FIFOs and devices
    without following or opening them."""
    if os.path.ismount(host_dir):
        _unmount(host_dir)
    if not shutil.rmtree.avoids_symlink_attacks:
        raise OSError(errno.ENOTSUP, f"removing {host_dir}: this platform's rmtree could follow links")
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(host_dir)


_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2
_INODES = 32  # the socket and whatever little else the runner needs
_libc = ctypes.CDLL(None, use_errno=True)
_quota_warned = False


def _mount_quota(host_dir: Path, size_mb: int) -> None:
    """Make `host_dir` a tmpfs of `size_mb`; without the privilege to mount, warn once and go on."""
    global _quota_warned
    options = f"size={size_mb}m,nr_inodes={_INODES},mode=0700".encode()
    if _libc.mount(b"tmpfs", os.fsencode(host_dir), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) == 0:
        return
    code = ctypes.get_errno()
    if code not in (errno.EPERM, errno.EACCES):
        raise OSError(code, f"mounting a {size_mb} MB tmpfs on {host_dir}: {os.strerror(code)}")
    if not _quota_warned:
        _quota_warned = True
        log.warning(
            "cannot mount a size-limited tmpfs for each sandbox's host directory (%s): an action can write "
            "past its log limit into %s; run Whisklet as root or set docker.run_dir_mb = 0 to silence this",
            os.strerror(code), host_dir.parent,
        )


def _unmount(host_dir: Path) -> None:
    if _libc.umount2(os.fsencode(host_dir), _MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):  # not (or no longer) a mount point
            raise OSError(code, f"unmounting {host_dir}: {os.strerror(code)}")


def remove_leftover_dirs(run_dir: Path) -> None:
    """Remove every `whisklet-*` directory in `run_dir` (it belongs to one Whisklet process)."""
    try:
        entries = list(run_dir.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(NAME_PREFIX) and entry.is_dir() and not entry.is_symlink():
            remove_host_dir(entry)
