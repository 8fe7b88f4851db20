"""The runtime image: `whisklet-nodejs:<major>`, assembled from the host's own Node.js binary.

No registry is reachable where Whisklet is built and tested, so the image is not pulled or built from
a Dockerfile: one layer is assembled from the host's `node`, the shared libraries `ldd` lists, a
minimal `/etc/passwd` and `/etc/group` and the runner, and loaded with `POST /images/load` as a
`docker save` tarball. `pool/runtime/nodejs/Dockerfile` builds an equivalent image on hosts that
have a registry (`docker build`); `ensure_image` never reaches for one.

The image carries a `whisklet.runtime-digest` label (runner source + node binary identity + this
recipe), so a changed runner or an upgraded node makes `ensure_image` rebuild it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from datetime import datetime, timezone
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import aiohttp

from pool.sandbox.driver import EngineUnavailable, SandboxError

REPOSITORY = "whisklet-nodejs"
RUNNER_PATH = Path(__file__).parents[2] / "runtime" / "nodejs" / "runner.js"
DIGEST_LABEL = "whisklet.runtime-digest"
RUNNER_IN_IMAGE = "/opt/whisklet/runner.js"
RUNNER_MODULES = ("archive.js",)
"""Files beside the runner that it requires: copied next to it into the image, and into its digest."""
RUNNER_ARGV = ("node", "--expose-gc", RUNNER_IN_IMAGE)
RUNNER_UID = 1000
RUNNER_GID = 1000
RUN_DIR_IN_IMAGE = "/run/whisklet"

_NODE_IN_IMAGE = "usr/local/bin/node"
_PATH = "/usr/local/bin:/usr/bin:/bin"
_PASSWD = b"root:x:0:0:root:/root:/sbin/nologin\nwhisk:x:1000:1000:whisk:/tmp:/sbin/nologin\n"
_GROUP = b"root:x:0:\nwhisk:x:1000:\n"
_DIRS = {"etc": 0o755, "opt": 0o755, "opt/whisklet": 0o755, "run": 0o755, "run/whisklet": 0o755,
         "tmp": 0o1777, "usr": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755,
         "proc": 0o555, "sys": 0o555, "dev": 0o755}
# Bump when the layout above changes, so existing images are rebuilt.
_RECIPE = "whisklet-nodejs/1"
_CHUNK = 1 << 20


def node_major(node_binary: str) -> int:
    """The major version of `node_binary` (`node --version`). Blocking: runs a subprocess."""
    out = _output([node_binary, "--version"])
    match = re.match(r"v(\d+)\.", out.strip())
    if match is None:
        raise SandboxError(f"cannot read the Node.js version of {node_binary}: {out.strip()!r}")
    return int(match.group(1))


def runtime_tag(node_binary: str) -> str:
    """`whisklet-nodejs:<major>` for `node_binary`. Blocking: runs a subprocess."""
    return f"{REPOSITORY}:{node_major(node_binary)}"


async def ensure_image(docker: aiodocker.Docker, node_binary: str = "/usr/bin/node", *,
                       force: bool = False, runner_path: str | os.PathLike[str] = RUNNER_PATH,
                       repository: str = REPOSITORY) -> str:
    """Return the runtime image's tag, building it only when missing, stale or `force` is set.

    `runner_path` and `repository` exist for tests; Whisklet uses the defaults.
    Raises `EngineUnavailable` when the engine can't be reached, `SandboxError` when the build fails.
    """
    node_binary, major, runner, digest = await asyncio.to_thread(_identify, node_binary, Path(runner_path))
    tag = f"{repository}:{major}"
    try:
        current = await _inspect(docker, tag)
        labels = (current or {}).get("Config", {}).get("Labels") or {}
        if current is None or labels.get(DIGEST_LABEL) != digest or force:
            await _build(docker, tag, digest, node_binary, runner)
        await _remove_replaced(docker)
    except aiodocker.DockerError as exc:
        if exc.status == 900:
            raise EngineUnavailable(f"cannot reach the Docker engine to build {tag}: {exc.message}") from exc
        raise SandboxError(f"building image {tag} failed: {exc.message}") from exc
    except aiohttp.ClientConnectionError as exc:
        raise EngineUnavailable(f"lost the Docker engine while building {tag}: {exc}") from exc
    return tag


async def _inspect(docker: aiodocker.Docker, tag: str) -> dict | None:
    try:
        return await docker.images.inspect(tag)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return None
        raise


async def _remove_replaced(docker: aiodocker.Docker) -> None:
    """Delete runtime images a rebuild left untagged; those still used by a container stay for now."""
    replaced = await docker.images.list(filters={"dangling": ["true"], "label": [DIGEST_LABEL]})
    for image in replaced:
        try:
            await docker.images.delete(image["Id"])
        except aiodocker.DockerError as exc:
            if exc.status not in (404, 409):
                raise


def _identify(node_binary: str, runner_path: Path) -> tuple[str, int, list[tuple[str, bytes]], str]:
    """The node binary's real path and major, the runner's files, and the digest label of both:
    the recipe, the binary's identity (path, size, mtime) and the runner files' names and bytes."""
    node_binary = os.path.realpath(node_binary)
    major = node_major(node_binary)
    runner = _runner_files(runner_path)
    stat = os.stat(node_binary)
    digest = hashlib.sha256()
    digest.update(f"{_RECIPE}\0{node_binary}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for name, content in runner:
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return node_binary, major, runner, "sha256:" + digest.hexdigest()


def _runner_files(runner_path: Path) -> list[tuple[str, bytes]]:
    """(path in the image, content) of the runner and of the `RUNNER_MODULES` beside it."""
    directory = RUNNER_IN_IMAGE.rsplit("/", 1)[0]
    modules = [(f"{directory}/{name}", _read_runner(runner_path.parent / name)) for name in RUNNER_MODULES]
    return [(RUNNER_IN_IMAGE, _read_runner(runner_path)), *modules]


def _read_runner(runner_path: Path) -> bytes:
    try:
        return runner_path.read_bytes()
    except OSError as exc:
        raise SandboxError(f"the runner {runner_path} cannot be read: {exc}") from exc


async def _build(docker: aiodocker.Docker, tag: str, digest: str, node_binary: str,
                 runner: list[tuple[str, bytes]]) -> None:
    layer = await asyncio.to_thread(tempfile.TemporaryFile, prefix="whisklet-layer-")
    try:
        diff_id, layer_size = await asyncio.to_thread(_write_layer, layer, node_binary, runner)
        config = _image_config(diff_id, digest)
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_name = diff_id.removeprefix("sha256:") + "/layer.tar"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]).encode()
        archive = _save_archive(manifest, config_name, config, layer_name, layer, layer_size)
        await docker.images.import_image(archive)
    finally:
        await asyncio.to_thread(layer.close)


def _write_layer(layer: io.BufferedRandom, node_binary: str, runner: list[tuple[str, bytes]]) -> tuple[str, int]:
    """Write the single layer's tar to `layer`; return its diff id and size."""
    hashing = _HashingWriter(layer)
    with tarfile.open(fileobj=hashing, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirs = set(_DIRS)
        for name, mode in _DIRS.items():
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        for library in _shared_libraries(node_binary):
            name = library.lstrip("/")
            for parent in map(str, reversed(Path(name).parents[:-1])):
                if parent not in dirs:
                    dirs.add(parent)
                    tar.addfile(_entry(parent, tarfile.DIRTYPE, 0o755))
            _add_file(tar, name, library, 0o755)
        _add_file(tar, _NODE_IN_IMAGE, node_binary, 0o755)
        for name, content in (("etc/passwd", _PASSWD), ("etc/group", _GROUP),
                              *((path.lstrip("/"), data) for path, data in runner)):
            info = _entry(name, tarfile.REGTYPE, 0o644)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    layer.flush()
    return "sha256:" + hashing.digest.hexdigest(), hashing.position


def _shared_libraries(node_binary: str) -> list[str]:
    """Absolute paths of the libraries and the loader `ldd` lists for `node_binary`."""
    out = _output(["ldd", node_binary])
    if "not found" in out:
        raise SandboxError(f"{node_binary} has unresolved shared libraries:\n{out}")
    paths = []
    for line in out.splitlines():
        target = line.split("=>", 1)[-1].strip().split(" (", 1)[0].strip()
        if target.startswith("/"):
            paths.append(target)
    return paths


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30,
                              env={"PATH": _PATH}).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot build the runtime image: {' '.join(argv)} failed: {exc}") from exc


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_file(tar: tarfile.TarFile, name: str, source: str, mode: int) -> None:
    """Add `source`'s content (following symlinks) as the regular file `name`."""
    with open(source, "rb") as fh:
        info = _entry(name, tarfile.REGTYPE, mode)
        info.size = os.fstat(fh.fileno()).st_size
        tar.addfile(info, fh)


class _HashingWriter:
    """A write-only file that hashes what passes through it (tarfile only needs write and tell)."""

    def __init__(self, target: io.BufferedRandom) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.position = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.position += len(data)
        return self.target.write(data)

    def tell(self) -> int:
        return self.position


def _image_config(diff_id: str, digest: str) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "config": {
            "User": f"{RUNNER_UID}:{RUNNER_GID}",
            "Env": [f"PATH={_PATH}"],
            "Cmd": list(RUNNER_ARGV),
            "WorkingDir": "/tmp",
            "Labels": {DIGEST_LABEL: digest},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"whisklet {_RECIPE}: host node, its libraries and the runner"}],
    }
    return json.dumps(config, sort_keys=True).encode()


async def _save_archive(manifest: bytes, config_name: str, config: bytes, layer_name: str,
                        layer: io.BufferedRandom, layer_size: int) -> AsyncIterator[bytes]:
    """Stream a `docker save` tarball without copying the layer into memory or a second file."""
    for name, content in (("manifest.json", manifest), (config_name, config)):
        yield _member_header(name, len(content)) + content + _padding(len(content))
    yield _member_header(layer_name, layer_size)
    await asyncio.to_thread(layer.seek, 0)
    while chunk := await asyncio.to_thread(layer.read, _CHUNK):
        yield chunk
    yield _padding(layer_size) + bytes(2 * tarfile.BLOCKSIZE)


def _member_header(name: str, size: int) -> bytes:
    info = _entry(name, tarfile.REGTYPE, 0o644)
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)
