"""The console's file index: what it holds, the import map it writes into the page, what it leaves out."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from gateway.console.files import ASSETS_DIR, MAX_FILE_BYTES, ConsoleFilesError, load_console_files

PAGE = (
    '<!doctype html><html><head><!-- import map -->'
    '<script type="module" src="/console/js/main.js"></script></head></html>'
)


def make_assets(root: Path) -> Path:
    assets = root / "assets"
    (assets / "js").mkdir(parents=True)
    (assets / "index.html").write_text(PAGE)
    (assets / "js" / "main.js").write_text("export {};\n")
    (assets / "console.css").write_text("body {}\n")
    return assets


def make_package(modules: Path, name: str, entry: str = "dist/index.js") -> None:
    package = modules / name
    (package / Path(entry).parent).mkdir(parents=True, exist_ok=True)
    (package / "package.json").write_text(json.dumps({"name": name, "exports": {".": {"import": f"./{entry}"}}}))
    (package / entry).write_text("export const view = 1;\n")


def import_map(page: bytes) -> dict[str, str]:
    found = re.search(rb'<script type="importmap">(.*?)</script>', page)
    assert found is not None
    imports: dict[str, str] = json.loads(found.group(1))["imports"]
    return imports


def test_the_shipped_console_has_its_page_its_modules_and_no_html_but_the_page() -> None:
    files = load_console_files()
    assert {"", "js/main.js", "console.css", "editor.css"} <= set(files.files)
    assert "index.html" not in files.files  # the page is served only with its import map, at /console
    assert files.files["js/main.js"].content_type == "text/javascript; charset=utf-8"
    assert all(not name.endswith(".py") for name in files.files)


def test_the_import_map_names_each_package_entry_and_the_page_carries_it(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    make_package(modules, "@codemirror/view")
    make_package(modules, "crelt", entry="index.js")
    files = load_console_files(make_assets(tmp_path), modules)
    assert import_map(files.files[""].body) == {
        "@codemirror/view": "/console/modules/@codemirror/view/dist/index.js",
        "crelt": "/console/modules/crelt/index.js",
    }
    assert files.editor_available
    assert files.files["modules/@codemirror/view/dist/index.js"].content_type == "text/javascript; charset=utf-8"


def test_without_the_npm_packages_the_page_still_loads_and_says_the_editor_is_missing(tmp_path: Path) -> None:
    files = load_console_files(make_assets(tmp_path), tmp_path / "not-installed")
    assert not files.editor_available
    assert import_map(files.files[""].body) == {}
    assert "js/main.js" in files.files


def test_the_page_script_hash_is_the_import_maps_so_the_csp_allows_exactly_it(tmp_path: Path) -> None:
    files = load_console_files(make_assets(tmp_path), tmp_path / "none")
    found = re.search(rb'<script type="importmap">(.*?)</script>', files.files[""].body)
    assert found is not None
    digest = base64.b64encode(hashlib.sha256(found.group(1)).digest()).decode()
    assert files.script_hashes == (f"'sha256-{digest}'",)


def test_symlinks_in_the_assets_or_the_packages_are_never_indexed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.js"
    secret.write_text("the operator's secret\n")
    assets = make_assets(tmp_path)
    os.symlink(secret, assets / "js" / "linked.js")
    os.symlink(tmp_path, assets / "js" / "up")
    modules = tmp_path / "node_modules"
    make_package(modules, "crelt", entry="index.js")
    os.symlink(secret, modules / "crelt" / "secret.js")
    os.symlink(tmp_path, modules / "outside")
    files = load_console_files(assets, modules)
    assert not any(b"operator's secret" in asset.body for asset in files.files.values())
    assert not any(name.startswith(("js/up/", "modules/outside/")) for name in files.files)


def test_a_file_over_the_bound_stops_start_up_with_its_name(tmp_path: Path) -> None:
    assets = make_assets(tmp_path)
    (assets / "huge.js").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConsoleFilesError, match=r"huge\.js"):
        load_console_files(assets, tmp_path / "none")


def test_a_missing_page_is_named() -> None:
    with pytest.raises(ConsoleFilesError, match=r"index\.html"):
        load_console_files(ASSETS_DIR / "js", ASSETS_DIR / "none")
