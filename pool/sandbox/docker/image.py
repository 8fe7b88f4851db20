"""The runtime images: `whisklet-nodejs:<major>` per kind, assembled from that kind's installed Node.js binary.

No registry is reachable where Whisklet is built and tested, so the image is not pulled or built from
a Dockerfile: one layer is assembled from the runtime file set (`pool/runtime/nodejs/files.py`: the
kind's `node`, its shared libraries, a minimal `/etc/passwd` and `/etc/group`, the runner, the
pre-installed modules), and loaded with `POST /images/load` as a
`docker save` tarball. `pool/runtime/nodejs/Dockerfile` builds an equivalent image on hosts that
have a registry (`docker build`); `ensure_image` never reaches for one.

The image carries a `whisklet.runtime-digest` label (runner source + node binary identity + modules +
this recipe), so a changed runner, an upgraded node or new modules make `ensure_image` rebuild it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import aiodocker

from pool.runtime.nodejs.files import (
    DIRS,
    GROUP,
    NODE_IN_IMAGE,
    PASSWD,
    RECIPE,
    RUNNER_ARGV,
    RUNNER_GID,
    RUNNER_PATH,
    RUNNER_UID,
    SEARCH_PATH,
    identify,
    module_entries,
    node_major,
    shared_libraries,
)
from pool.runtime.nodejs.kinds import MODULES_IN_IMAGE, MODULES_LINK, RUNTIMES, modules_dir, node_binary
from pool.sandbox.docker.errors import engine_errors
from pool.sandbox.driver import SandboxError

REPOSITORY = "whisklet-nodejs"
DIGEST_LABEL = "whisklet.runtime-digest"
_CHUNK = 1 << 20


def runtime_tag(node_binary: str) -> str:
    """`whisklet-nodejs:<major>` for `node_binary`. Blocking: runs a subprocess."""
    return f"{REPOSITORY}:{node_major(node_binary)}"


async def ensure_images(docker: aiodocker.Docker, *, repository: str = REPOSITORY,
                        force: bool = False) -> dict[str, str]:
    """Each kind's runtime image (kind -> tag), from its installed node and the installed modules, each
    built only when missing, stale or `force` is set."""
    try:
        modules = await asyncio.to_thread(modules_dir)
        binaries = {r.kind: await asyncio.to_thread(node_binary, r) for r in RUNTIMES}
    except OSError as exc:
        raise SandboxError(f"assembling the runtime images failed: {exc}") from exc
    return {kind: await ensure_image(docker, binary, force=force, repository=repository, modules=modules)
            for kind, binary in binaries.items()}


async def ensure_image(docker: aiodocker.Docker, node_binary: str = "/usr/bin/node", *,
                       force: bool = False, runner_path: str | os.PathLike[str] = RUNNER_PATH,
                       repository: str = REPOSITORY, modules: str | None = None) -> str:
    """Return the runtime image's tag, building it only when missing, stale or `force` is set.

    `modules` is the installed pre-installed modules' directory (none when None).
    `runner_path` and `repository` exist for tests; Whisklet uses the defaults.
    Raises `EngineUnavailable` when the engine can't be reached, `SandboxError` when the build fails.
    """
    node_binary, major, runner, digest = await asyncio.to_thread(identify, node_binary, Path(runner_path), modules)
    tag = f"{repository}:{major}"
    with engine_errors(f"building image {tag}"):
        current = await _inspect(docker, tag)
        labels = (current or {}).get("Config", {}).get("Labels") or {}
        if current is None or labels.get(DIGEST_LABEL) != digest or force:
            await _build(docker, tag, digest, node_binary, runner, modules)
        await _remove_replaced(docker)
    return tag


async def _inspect(docker: aiodocker.Docker, tag: str) -> dict[str, Any] | None:
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


async def _build(docker: aiodocker.Docker, tag: str, digest: str, node_binary: str,
                 runner: list[tuple[str, bytes]], modules: str | None) -> None:
    layer = await asyncio.to_thread(_layer_file)
    try:
        diff_id, layer_size = await asyncio.to_thread(_write_layer, layer, node_binary, runner, modules)
        config = _image_config(diff_id, digest)
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_name = diff_id.removeprefix("sha256:") + "/layer.tar"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]).encode()
        archive = _save_archive(manifest, config_name, config, layer_name, layer, layer_size)
        await docker.images.import_image(archive)
    finally:
        await asyncio.to_thread(layer.close)


def _layer_file() -> io.BufferedRandom:
    """An anonymous temporary file for the layer's tar. Blocking."""
    return tempfile.TemporaryFile(mode="w+b", prefix="whisklet-layer-")


def _write_layer(layer: io.BufferedRandom, node_binary: str, runner: list[tuple[str, bytes]],
                 modules: str | None) -> tuple[str, int]:
    """Write the single layer's tar to `layer`; return its diff id and size."""
    hashing = _HashingWriter(layer)
    with tarfile.open(fileobj=cast(IO[bytes], hashing), mode="w", format=tarfile.USTAR_FORMAT) as tar:
        dirs = set(DIRS)
        for name, mode in DIRS.items():
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        for library in shared_libraries(node_binary):
            name = library.lstrip("/")
            for parent in map(str, reversed(Path(name).parents[:-1])):
                if parent not in dirs:
                    dirs.add(parent)
                    tar.addfile(_entry(parent, tarfile.DIRTYPE, 0o755))
            _add_file(tar, name, library, 0o755)
        _add_file(tar, NODE_IN_IMAGE.lstrip("/"), node_binary, 0o755)
        for name, content in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                              *((path.lstrip("/"), data) for path, data in runner)):
            info = _entry(name, tarfile.REGTYPE, 0o644)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        if modules is not None:
            _add_modules(tar, modules)
    layer.flush()
    return "sha256:" + hashing.digest.hexdigest(), hashing.position


def _add_modules(tar: tarfile.TarFile, modules: str) -> None:
    """The pre-installed modules at `MODULES_IN_IMAGE`, root's and read-only, and `/node_modules` linking there."""
    for path, kind, source in module_entries(modules):
        name = path.lstrip("/")
        if kind == "dir":
            tar.addfile(_entry(name, tarfile.DIRTYPE, 0o755))
        elif kind == "link":
            tar.addfile(_link(name, source))
        else:
            _add_file(tar, name, source, 0o644)
    tar.addfile(_link(MODULES_LINK.lstrip("/"), MODULES_IN_IMAGE.lstrip("/")))


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = _entry(name, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    return info


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
        "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "config": {
            "User": f"{RUNNER_UID}:{RUNNER_GID}",
            "Env": [f"PATH={SEARCH_PATH}"],
            "Cmd": list(RUNNER_ARGV),
            "WorkingDir": "/tmp",
            "Labels": {DIGEST_LABEL: digest},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"whisklet {RECIPE}: node, its libraries, the runner and the modules"}],
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
