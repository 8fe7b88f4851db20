"""The Node.js runtime's file set: what both the Docker image and the namespace runtime tree hold.

The host's `node` binary and the shared libraries `ldd` lists, a minimal `/etc/passwd` and `/etc/group`
naming the runner's uid/gid, the empty directories the sandbox needs, the runner (`runner.js`) with
the modules beside it that it requires, and the pre-installed npm modules (`kinds.MODULES_IN_IMAGE`, linked
from `/node_modules`). `identify` names the node binary and the runner files and gives their digest (with
the modules' installed directory, named by its lock), so each driver rebuilds its image or tree when any changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from pool.runtime.nodejs.kinds import MODULES_IN_IMAGE
from pool.sandbox.driver import SandboxError

RUNNER_PATH = Path(__file__).parent / "runner.js"
RUNNER_IN_IMAGE = "/opt/whisklet/runner.js"
RUNNER_MODULES = ("archive.js", "api_proxy.js")
"""Files beside the runner that it requires: copied next to it into the image or tree, and into its digest."""
RUNNER_ARGV = ("node", "--expose-gc", RUNNER_IN_IMAGE)
RUNNER_UID = 1000
RUNNER_GID = 1000
RUN_DIR_IN_IMAGE = "/run/whisklet"
API_DIR_IN_IMAGE = "/run/whisklet-api"
"""Where the directory holding the gateway's inside API socket is bound, when the egress policy allows the API."""
API_SOCKET_NAME = "api.sock"
API_PORT_IN_SANDBOX = 3233
"""The port the API forwarder (api_proxy.js) listens on, on the sandbox's own loopback."""
API_HOST_IN_SANDBOX = f"http://127.0.0.1:{API_PORT_IN_SANDBOX}"
"""`__OW_API_HOST` for an action whose egress allows the API."""
NODE_IN_IMAGE = "/usr/local/bin/node"
SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
"""`PATH` inside a sandbox, and for the tools (`node --version`, `ldd`) run to identify the binary."""

PASSWD = b"root:x:0:0:root:/root:/sbin/nologin\nwhisk:x:1000:1000:whisk:/tmp:/sbin/nologin\n"
GROUP = b"root:x:0:\nwhisk:x:1000:\n"
RESOLV_CONF = ("/etc/resolv.conf", b"nameserver 10.0.2.3\noptions timeout:2 attempts:2\n")
"""The sandbox's resolver: slirp4netns's DNS forwarder, reachable only with `internet` egress (it asks the
host's own resolvers). Docker replaces the file with the engine's."""
DIRS = {"etc": 0o755, "opt": 0o755, "opt/whisklet": 0o755, "run": 0o755, "run/whisklet": 0o755,
        "run/whisklet-api": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755,
        "usr/local/lib": 0o755, "proc": 0o555, "sys": 0o555, "dev": 0o755}
"""Directories of the file set (relative to its root) and their modes."""
# Bump when the layout above changes, so that images and trees built from it are rebuilt.
RECIPE = "whisklet-nodejs/3"


def node_major(node_binary: str) -> int:
    """The major version of `node_binary` (`node --version`). Blocking: runs a subprocess."""
    out = _output([node_binary, "--version"])
    match = re.match(r"v(\d+)\.", out.strip())
    if match is None:
        raise SandboxError(f"cannot read the Node.js version of {node_binary}: {out.strip()!r}")
    return int(match.group(1))


def identify(node_binary: str, runner_path: Path,
             modules: str | None = None) -> tuple[str, int, list[tuple[str, bytes]], str]:
    """The node binary's real path and major, the runner's files, and the digest of both: the recipe,
    the binary's identity (path, size, mtime), the modules' directory (named by its lock's digest) and
    the runner files' names and bytes. Blocking."""
    node_binary = os.path.realpath(node_binary)
    major = node_major(node_binary)
    runner = runner_files(runner_path)
    stat = os.stat(node_binary)
    digest = hashlib.sha256()
    digest.update(f"{RECIPE}\0{node_binary}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    if modules is not None:
        digest.update(f"modules\0{os.path.realpath(modules)}\0".encode())
    for name, content in runner:
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return node_binary, major, runner, "sha256:" + digest.hexdigest()


def runner_files(runner_path: Path) -> list[tuple[str, bytes]]:
    """(absolute path in the image, content) of the runner, of the `RUNNER_MODULES` beside it and of the
    resolver configuration (`RESOLV_CONF`)."""
    directory = RUNNER_IN_IMAGE.rsplit("/", 1)[0]
    modules = [(f"{directory}/{name}", _read_runner(runner_path.parent / name)) for name in RUNNER_MODULES]
    return [(RUNNER_IN_IMAGE, _read_runner(runner_path)), *modules, RESOLV_CONF]


def module_entries(modules: str) -> list[tuple[str, str, str]]:
    """(path in the image, kind, source) for everything under the installed modules' directory, parents
    first: kind "dir" (source unused), "file" (source: the file) or "link" (source: the link's own target,
    kept as it is, relative inside the tree). Blocking: walks the directory."""
    entries: list[tuple[str, str, str]] = [(MODULES_IN_IMAGE, "dir", "")]
    for directory, dirs, files in os.walk(modules):
        relative = os.path.relpath(directory, modules)
        base = MODULES_IN_IMAGE if relative == "." else f"{MODULES_IN_IMAGE}/{relative}"
        for name in sorted(dirs) + sorted(files):
            source = os.path.join(directory, name)
            if os.path.islink(source):
                entries.append((f"{base}/{name}", "link", os.readlink(source)))
            elif os.path.isdir(source):
                entries.append((f"{base}/{name}", "dir", ""))
            elif os.path.isfile(source):
                entries.append((f"{base}/{name}", "file", source))
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(directory, d)))
    return entries


def shared_libraries(node_binary: str) -> list[str]:
    """Absolute paths of the libraries and the loader `ldd` lists for `node_binary`. Blocking."""
    out = _output(["ldd", node_binary])
    if "not found" in out:
        raise SandboxError(f"{node_binary} has unresolved shared libraries:\n{out}")
    paths = []
    for line in out.splitlines():
        target = line.split("=>", 1)[-1].strip().split(" (", 1)[0].strip()
        if target.startswith("/"):
            paths.append(target)
    return paths


def _read_runner(runner_path: Path) -> bytes:
    try:
        return runner_path.read_bytes()
    except OSError as exc:
        raise SandboxError(f"the runner {runner_path} cannot be read: {exc}") from exc


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30,
                              env={"PATH": SEARCH_PATH}).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot assemble the Node.js runtime: {' '.join(argv)} failed: {exc}") from exc
