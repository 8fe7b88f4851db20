"""The shared read-only runtime tree (pool/sandbox/namespace/runtime.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pool.runtime.nodejs.files import RUNNER_MODULES, RUNNER_PATH
from pool.sandbox.namespace.runtime import ensure_tree


def runner_copy(directory: Path, extra: str = "") -> Path:
    directory.mkdir()
    for name in RUNNER_MODULES:
        shutil.copy(RUNNER_PATH.parent / name, directory / name)
    runner = directory / "runner.js"
    runner.write_text(RUNNER_PATH.read_text() + extra)
    return runner


def test_tree_holds_node_its_libraries_the_runner_and_mount_points(tmp_path: Path) -> None:
    tree, held = ensure_tree(tmp_path / "runtime", "/usr/bin/node")
    try:
        for path in ("usr/local/bin/node", "opt/whisklet/runner.js", "opt/whisklet/archive.js",
                     "opt/whisklet/snapshot.js", "etc/passwd", "proc", "dev", "tmp", "run/whisklet"):
            assert (tree / path).exists(), path
        assert oct((tree / "tmp").stat().st_mode & 0o7777) == "0o1777"
        again, held_again = ensure_tree(tmp_path / "runtime", "/usr/bin/node")
        os.close(held_again)
        assert again == tree
    finally:
        os.close(held)


def test_a_changed_runner_gets_a_new_tree_and_a_tree_nobody_holds_is_removed(tmp_path: Path) -> None:
    first, first_held = ensure_tree(tmp_path / "runtime", "/usr/bin/node", runner_copy(tmp_path / "a"))
    second, second_held = ensure_tree(tmp_path / "runtime", "/usr/bin/node", runner_copy(tmp_path / "b", "\n// v2"))
    assert second != first and first.is_dir()  # still held by the first
    os.close(first_held)
    third, third_held = ensure_tree(tmp_path / "runtime", "/usr/bin/node", runner_copy(tmp_path / "c", "\n// v3"))
    assert not first.exists() and second.is_dir()
    for held in (second_held, third_held):
        os.close(held)
    assert (third / "opt/whisklet/runner.js").read_text().endswith("// v3")
