"""The web console's files, read once at start-up into an immutable index: only indexed names are ever served.

The console is plain JavaScript modules (`assets/`) plus CodeMirror's ES modules as `npm ci` installed them
(`node_modules/`, served under `/console/modules/`). A request names an index entry or gets a 404: no request
path is ever joined to a directory, so `..`, encoded variants and symlinks cannot reach another file.
Symlinks and anything but regular files are left out of the index; files and the index are bounded.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

CONSOLE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = CONSOLE_DIR / "assets"
MODULES_DIR = CONSOLE_DIR / "node_modules"
MODULES_URL = "/console/modules/"
IMPORT_MAP_MARKER = "<!-- import map -->"

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    """One file as it is served: its bytes, content type and entity tag (browsers revalidate every file with
    it, so a new console or a new CodeMirror from `npm ci` is seen at the next load)."""

    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class ConsoleFiles:
    """What `GET /console/...` may answer.

    1. `files` maps a path below `/console/` (`""` is the page itself) to its asset.
    2. `script_hashes` are the CSP hashes of the page's one inline script, its import map.
    3. `editor_available` is false when CodeMirror's packages are not installed: the page then uses a textarea.
    """

    files: Mapping[str, Asset]
    script_hashes: tuple[str, ...]
    editor_available: bool


class ConsoleFilesError(Exception):
    """The console's files are not what set-up installs (too large, or the page is missing)."""


def load_console_files(assets_dir: Path = ASSETS_DIR, modules_dir: Path = MODULES_DIR) -> ConsoleFiles:
    """Index the console's own files and the npm packages' ES modules; called once, before serving."""
    budget = _Budget(MAX_TOTAL_BYTES)
    files: dict[str, Asset] = {}
    for relative, path in _regular_files(assets_dir):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is not None and relative != "index.html":
            files[relative] = _asset(budget.read(path), content_type)
    imports: dict[str, str] = {}
    for relative, path in _regular_files(modules_dir):
        if path.suffix == ".js":
            files["modules/" + relative] = _asset(budget.read(path), CONTENT_TYPES[".js"])
        elif path.name == "package.json" and (entry := _package_entry(budget.read(path), relative)) is not None:
            imports[entry[0]] = MODULES_URL + entry[1]
    imports = {name: url for name, url in imports.items() if url.removeprefix("/console/") in files}
    import_map = json.dumps({"imports": dict(sorted(imports.items()))}, separators=(",", ":"))
    try:
        page = budget.read(assets_dir / "index.html").decode()
    except FileNotFoundError as error:
        missing = error.filename
        raise ConsoleFilesError(f"the console's page is missing ({missing}): check out gateway/console") from error
    page = page.replace(IMPORT_MAP_MARKER, f'<script type="importmap">{import_map}</script>', 1)
    files[""] = _asset(page.encode(), CONTENT_TYPES[".html"])
    digest = hashlib.sha256(import_map.encode()).digest()
    script_hash = "'sha256-" + base64.b64encode(digest).decode() + "'"
    return ConsoleFiles(MappingProxyType(files), (script_hash,), editor_available="@codemirror/view" in imports)


@functools.cache
def shipped_console_files() -> ConsoleFiles:
    """The console as installed beside this module, read once per process (every app built shares it)."""
    return load_console_files()


def _asset(body: bytes, content_type: str) -> Asset:
    return Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _regular_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Regular files below `root` as (path relative to it with `/`, path), never through a symlink."""
    if not root.is_dir() or root.is_symlink():
        return
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        subdirectories[:] = sorted(d for d in subdirectories if not (Path(directory) / d).is_symlink())
        for name in sorted(names):
            path = Path(directory) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield path.relative_to(root).as_posix(), path


def _package_entry(manifest: bytes, relative: str) -> tuple[str, str] | None:
    """(package name, its ES module entry relative to node_modules) from a top-level package's package.json."""
    parts = relative.split("/")
    if len(parts) != (3 if relative.startswith("@") else 2):
        return None  # a nested package.json (e.g. `dist/package.json`), not a package's own
    try:
        package = json.loads(manifest)
    except ValueError:
        return None
    exports = package.get("exports")
    root_export = exports.get(".", exports) if isinstance(exports, dict) else exports
    entry = root_export.get("import") if isinstance(root_export, dict) else root_export
    entry = entry if isinstance(entry, str) else package.get("module") or package.get("main")
    name = package.get("name")
    if not isinstance(name, str) or not isinstance(entry, str) or not entry.endswith(".js"):
        return None
    return name, "/".join(parts[:-1]) + "/" + entry.removeprefix("./")


class _Budget:
    """Reads files without following a final symlink, within a per-file and a total byte bound."""

    def __init__(self, total_bytes: int) -> None:
        self.left_bytes = total_bytes

    def read(self, path: Path) -> bytes:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as file:
            body = file.read(MAX_FILE_BYTES + 1)
        if len(body) > MAX_FILE_BYTES:
            raise ConsoleFilesError(f"{path} is larger than {MAX_FILE_BYTES} bytes: the console serves no such file")
        self.left_bytes -= len(body)
        if self.left_bytes < 0:
            raise ConsoleFilesError(f"the console's files exceed {MAX_TOTAL_BYTES} bytes: check {path.parent}")
        return body
