"""The shared read-only runtime tree every sandbox gets as `/`: the host's Node.js and the runner.

The same file set the Docker image is assembled from (`pool/sandbox/docker/image.py`): the host's `node`
and the libraries `ldd` lists, a minimal `/etc/passwd` and `/etc/group`, the runner and its modules,
the startup snapshot's entry (`snapshot.py`; its blobs are built into the tree on first use), and the
empty mount points bubblewrap binds over (`/proc`, `/dev`, `/tmp`, `/run/whisklet`). It is built
once per runtime digest (runner files + node binary identity + this recipe) under `<runtime_dir>/<digest>`,
owned by root and read-only to everyone else, then bound read-only into every sandbox; a changed runner or
an upgraded node gives a new digest and a new tree, and trees of other digests are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

# The runtime file set lives in the Docker driver until the two drivers' common parts move out of it
# (pool/runtime/nodejs/, after issue 9's pool branch is merged); these names are read, never changed, here.
from pool.sandbox.docker.image import (
    _DIRS,
    _GROUP,
    _PASSWD,
    RUNNER_PATH,
    _identify,
    _shared_libraries,
)
from pool.sandbox.namespace.snapshot import ENTRY_IN_TREE, ENTRY_PATH

NODE_IN_TREE = "/usr/local/bin/node"
_RECIPE = "whisklet-namespace-tree/2"
_MODE = 0o755


def ensure_tree(runtime_dir: Path, node_binary: str, runner_path: Path = RUNNER_PATH) -> Path:
    """The runtime tree for `node_binary` and the runner, built when missing; older trees removed.

    Blocking (runs `ldd`, copies files): call it from a thread.
    """
    node_binary, _major, runner, digest = _identify(node_binary, runner_path)
    runner.append((ENTRY_IN_TREE, ENTRY_PATH.read_bytes()))
    name = hashlib.sha256(f"{_RECIPE}\0{digest}\0".encode() + ENTRY_PATH.read_bytes()).hexdigest()[:16]
    tree = runtime_dir / name
    runtime_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    if not tree.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=runtime_dir))
        try:
            _assemble(staging, node_binary, runner)
            staging.chmod(_MODE)
            staging.rename(tree)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    for entry in runtime_dir.iterdir():
        if entry != tree and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    return tree


def _assemble(root: Path, node_binary: str, runner: list[tuple[str, bytes]]) -> None:
    for directory, mode in _DIRS.items():
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory).chmod(mode)
    for library in _shared_libraries(node_binary):
        _place(root, library, library)
    _place(root, NODE_IN_TREE, node_binary)
    for path, content in (("/etc/passwd", _PASSWD), ("/etc/group", _GROUP), *runner):
        target = root / path.lstrip("/")
        target.parent.mkdir(mode=_MODE, parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o644)


def _place(root: Path, path: str, source: str) -> None:
    """Put `source` (followed to its real file) at `path` in the tree: a hard link where the data
    directory shares the file system, else a copy."""
    target = root / path.lstrip("/")
    target.parent.mkdir(mode=_MODE, parents=True, exist_ok=True)
    real = os.path.realpath(source)
    with contextlib.suppress(FileExistsError):
        try:
            os.link(real, target)
        except OSError:
            shutil.copy2(real, target)
            target.chmod(_MODE)
