"""The shared read-only runtime trees sandboxes get as `/`: one per kind, its Node.js, the modules, the runner.

The runtime file set the Docker image is also assembled from (`pool/runtime/nodejs/files.py`): a kind's `node`
and the libraries `ldd` lists, a minimal `/etc/passwd` and `/etc/group`, the runner and its modules, the
pre-installed npm modules (hard links into the installed cache where it shares the file system),
the startup snapshot's entry (`snapshot.py`; its blobs are built into the tree on first use), and the
empty mount points bubblewrap binds over (`/proc`, `/dev`, `/tmp`, `/run/whisklet`). It is built
once per runtime digest (runner files + node binary identity + this recipe) under `<runtime_dir>/<digest>`,
owned by root and read-only to everyone else, then bound read-only into every sandbox; a changed runner or
an upgraded node gives a new digest and a new tree, and trees no running Whisklet holds are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from pool.runtime.nodejs.files import (
    DIRS,
    GROUP,
    NODE_IN_IMAGE,
    PASSWD,
    RUNNER_PATH,
    identify,
    module_entries,
    shared_libraries,
)
from pool.runtime.nodejs.kinds import MODULES_IN_IMAGE, MODULES_LINK
from pool.sandbox.namespace.snapshot import ENTRY_IN_TREE, ENTRY_PATH

NODE_IN_TREE = NODE_IN_IMAGE
_RECIPE = "whisklet-namespace-tree/3"
_MODE = 0o755
_ATTEMPTS = 3


def ensure_tree(runtime_dir: Path, node_binary: str, runner_path: Path = RUNNER_PATH,
                modules: str | None = None, keep: tuple[Path, ...] = ()) -> tuple[Path, int]:
    """The runtime tree for `node_binary`, the runner and the installed `modules` (none when None), built
    when missing, and a descriptor holding a shared lock on it: close it when no sandbox will start from
    the tree any more. `keep` names trees this process holds already (the other kinds').

    Trees are shared by every Whisklet on the host (a tree's name is its content's digest); a tree no
    Whisklet holds is removed here, so an upgraded node or a changed runner leaves nothing behind.
    Blocking (runs `ldd`, copies files, waits for a lock): call it from a thread.
    """
    node_binary, _major, runner, digest = identify(node_binary, runner_path, modules)
    runner.append((ENTRY_IN_TREE, ENTRY_PATH.read_bytes()))
    name = hashlib.sha256(f"{_RECIPE}\0{digest}\0".encode() + ENTRY_PATH.read_bytes()).hexdigest()[:16]
    tree = runtime_dir / name
    runtime_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        if not tree.is_dir():
            _build(runtime_dir, tree, node_binary, runner, modules)
        with contextlib.suppress(FileNotFoundError):
            held = os.open(tree, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(held, fcntl.LOCK_SH)
            if (tree / NODE_IN_TREE.lstrip("/")).exists():  # not removed while this waited for the lock
                _remove_unheld(runtime_dir, keep=(tree, *keep))
                return tree, held
            os.close(held)
    raise OSError(f"the runtime tree {tree} kept disappearing while it was being built")


def _build(runtime_dir: Path, tree: Path, node_binary: str, runner: list[tuple[str, bytes]],
           modules: str | None) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=runtime_dir))
    try:
        _assemble(staging, node_binary, runner)
        if modules is not None:
            _add_modules(staging, modules)
        staging.chmod(_MODE)
        staging.rename(tree)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not tree.is_dir():  # another Whisklet renamed the same tree into place first: fine
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_unheld(runtime_dir: Path, keep: tuple[Path, ...]) -> None:
    """Remove the trees no Whisklet holds a lock on (never one being built: those start with a dot)."""
    for entry in runtime_dir.iterdir():
        if entry in keep or entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # in use by another Whisklet
        else:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


def _assemble(root: Path, node_binary: str, runner: list[tuple[str, bytes]]) -> None:
    for directory, mode in DIRS.items():
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory).chmod(mode)
    for library in shared_libraries(node_binary):
        _place(root, library, library)
    _place(root, NODE_IN_TREE, node_binary)
    for path, content in (("/etc/passwd", PASSWD), ("/etc/group", GROUP), *runner):
        target = root / path.lstrip("/")
        target.parent.mkdir(mode=_MODE, parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o644)


def _add_modules(root: Path, modules: str) -> None:
    """The pre-installed modules at `MODULES_IN_IMAGE`, read-only, and `/node_modules` linking to them."""
    for path, kind, source in module_entries(modules):
        target = root / path.lstrip("/")
        if kind == "dir":
            target.mkdir(mode=_MODE, exist_ok=True)
            target.chmod(_MODE)
        elif kind == "link":
            target.symlink_to(source)
        else:
            _place(root, path, source, mode=0o644)
    (root / MODULES_LINK.lstrip("/")).symlink_to(MODULES_IN_IMAGE.lstrip("/"))


def _place(root: Path, path: str, source: str, mode: int = _MODE) -> None:
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
            target.chmod(mode)
