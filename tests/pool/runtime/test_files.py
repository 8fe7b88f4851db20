"""The Node.js runtime's file set: the runner files, the node binary's identity and its libraries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pool.runtime.nodejs.files import (
    RUNNER_IN_IMAGE,
    RUNNER_MODULES,
    RUNNER_PATH,
    identify,
    runner_files,
    shared_libraries,
)
from pool.sandbox.driver import SandboxError

NODE = "/usr/bin/node"


def copy_runner(tmp_path: Path) -> Path:
    for name in ("runner.js", *RUNNER_MODULES):
        shutil.copy(RUNNER_PATH.parent / name, tmp_path / name)
    return tmp_path / "runner.js"


def test_the_runner_and_its_modules_go_side_by_side_in_the_image() -> None:
    files = dict(runner_files(RUNNER_PATH))
    assert files[RUNNER_IN_IMAGE] == RUNNER_PATH.read_bytes()
    for name in RUNNER_MODULES:
        assert files[f"/opt/whisklet/{name}"] == (RUNNER_PATH.parent / name).read_bytes()


def test_a_changed_runner_module_changes_the_digest(tmp_path: Path) -> None:
    runner = copy_runner(tmp_path)
    _, _, _, before = identify(NODE, runner)
    assert identify(NODE, runner)[3] == before
    (tmp_path / RUNNER_MODULES[0]).write_bytes(b"// changed\n")
    assert identify(NODE, runner)[3] != before


def test_a_missing_runner_module_is_named(tmp_path: Path) -> None:
    runner = copy_runner(tmp_path)
    (tmp_path / RUNNER_MODULES[0]).unlink()
    with pytest.raises(SandboxError, match=RUNNER_MODULES[0]):
        identify(NODE, runner)


def test_node_needs_its_libraries_and_loader_by_absolute_path() -> None:
    libraries = shared_libraries(NODE)
    assert libraries and all(path.startswith("/") for path in libraries)
    assert any("ld-linux" in path for path in libraries)
