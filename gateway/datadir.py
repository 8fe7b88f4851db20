"""The data directory kept owner-only: directories 0700 and files 0600, whatever modes they had before.

The data directory holds the database (activation results, parameters), `wskprops` (a namespace's
key in clear) and the runners' directories: no other local user may read any of it. Modes are set
on every start, not only at creation, so a directory made by an older Whisklet (0755, 0644) is
tightened too.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def owner_only_dir(path: Path) -> Path:
    """Create `path` (and its parents) if missing, and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE, follow_symlinks=True)
    return path


def owner_only_file(path: Path, *, create: bool = True) -> Path:
    """Make `path` 0600, creating it empty if missing (with `create`; else FileNotFoundError).
    A symbolic link there is refused (OSError): these files are never anything but regular files."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
