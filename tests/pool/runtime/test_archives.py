"""Zip and tar.gz actions in the runner (pool/runtime/nodejs/archive.js), run with the host's node."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import AsyncIterator

import pytest

from tests.pool.runtime.test_runner import Runner, body, start_runner

FAILED = "Initialization has failed due to: There was an error uncompressing the action archive"


@pytest.fixture
async def runner() -> AsyncIterator[Runner]:
    directory = tempfile.mkdtemp(prefix="whisklet-runner-")
    runner = await start_runner(directory)
    runner.directory = directory  # where the action's TMPDIR points, so archives unpack in here
    try:
        yield runner
    finally:
        await runner.conn.close()
        if runner.process.returncode is None:
            runner.process.kill()
            await runner.process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def zipped(files: dict[str, str | bytes], symlinks: dict[str, str] | None = None) -> str:
    """A base64 zip of `files` (deflated) and Unix `symlinks` (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return base64.b64encode(buffer.getvalue()).decode()


def tarred(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return base64.b64encode(buffer.getvalue()).decode()


DEPENDENCY = {
    "node_modules/left-pad-lite/package.json": json.dumps({"name": "left-pad-lite", "main": "lib/pad.js"}),
    "node_modules/left-pad-lite/lib/pad.js": "module.exports = (s, n) => String(s).padStart(n, '*');",
}


async def init_archive(runner: Runner, code: str, main: str = "main", **value: object) -> tuple[int, object]:
    reply = await runner.init(code, main, binary=True, env={"TMPDIR": runner.directory}, **value)
    return reply.status, body(reply)


async def test_zip_action_requires_a_dependency_from_its_own_node_modules(runner: Runner) -> None:
    code = zipped({
        "package.json": json.dumps({"name": "app", "main": "index.js"}),
        "index.js": "const pad = require('left-pad-lite');\n"
                    "exports.main = (p) => ({padded: pad(p.s, 6), cwd: process.cwd()});",
        **DEPENDENCY,
    })
    assert await init_archive(runner, code) == (200, {"OK": True})
    result = body(await runner.run({"s": "ab"}))
    assert result["padded"] == "****ab"
    assert result["cwd"].startswith(os.path.realpath(runner.directory))


async def test_package_json_main_names_the_module(runner: Runner) -> None:
    code = zipped({"package.json": json.dumps({"main": "src/app.js"}),
                   "src/app.js": "exports.main = () => ({from: 'package.json main'})"})
    assert (await init_archive(runner, code))[0] == 200
    assert body(await runner.run()) == {"from": "package.json main"}


async def test_main_as_file_dot_function(runner: Runner) -> None:
    code = zipped({"lib/handler.js": "exports.run = () => ({from: 'lib/handler.run'})"})
    assert (await init_archive(runner, code, "lib/handler.run"))[0] == 200
    assert body(await runner.run()) == {"from": "lib/handler.run"}


async def test_tar_gz_action_is_unpacked_too(runner: Runner) -> None:
    code = tarred({"index.js": "exports.main = () => ({kind: 'tgz'})"})
    assert (await init_archive(runner, code))[0] == 200
    assert body(await runner.run()) == {"kind": "tgz"}


async def test_symlink_inside_the_archive_is_kept(runner: Runner) -> None:
    code = zipped({"real.js": "exports.main = () => ({via: 'link'})",
                   "index.js": "module.exports = require('./linked.js')"}, symlinks={"linked.js": "real.js"})
    assert (await init_archive(runner, code))[0] == 200
    assert body(await runner.run()) == {"via": "link"}


async def test_zip_slip_entry_is_refused_and_nothing_is_written_outside(runner: Runner) -> None:
    code = zipped({"index.js": "exports.main = () => ({})", "../escaped.js": "pwned"})
    status, reply = await init_archive(runner, code)
    assert status == 502
    assert reply == {"error": f"{FAILED}: the entry '../escaped.js' points outside the action's directory."}
    assert not any(name == "escaped.js" for _, _, files in os.walk(runner.directory) for name in files)
    assert (await runner.run()).status == 403  # the runner refuses further work after a failed init


async def test_absolute_entry_is_refused(runner: Runner) -> None:
    code = zipped({"/tmp/absolute.js": "pwned"})
    assert await init_archive(runner, code) == (
        502, {"error": f"{FAILED}: the entry '/tmp/absolute.js' has an absolute path."})


async def test_symlink_pointing_outside_is_refused(runner: Runner) -> None:
    code = zipped({"index.js": "exports.main = () => ({})"}, symlinks={"passwd": "../../../etc/passwd"})
    assert await init_archive(runner, code) == (
        502, {"error": f"{FAILED}: the symbolic link 'passwd' points outside the action's directory."})


async def test_tar_slip_entry_is_refused(runner: Runner) -> None:
    status, reply = await init_archive(runner, tarred({"a/../../escaped.js": "pwned"}))
    assert status == 502 and "points outside the action's directory" in reply["error"]


async def test_archive_unpacking_past_the_size_limit_is_refused(runner: Runner) -> None:
    code = zipped({"index.js": "exports.main = () => ({})", "big.bin": b"\0" * 200_000})
    assert await init_archive(runner, code, unpack_limit_bytes=100_000) == (
        502, {"error": f"{FAILED}: it unpacks to more than 100000 bytes, the limit of the action's /tmp."})


async def test_deflate_bomb_is_stopped_at_the_default_limit(runner: Runner) -> None:
    code = zipped({"index.js": "exports.main = () => ({})", "bomb.bin": b"\0" * (64 << 20)})
    assert len(code) < 200_000
    status, reply = await init_archive(runner, code)
    assert status == 502 and "it unpacks to more than" in reply["error"]


async def test_too_many_entries_are_refused(runner: Runner) -> None:
    code = zipped({f"f{i}.js": "" for i in range(20)})
    assert await init_archive(runner, code, unpack_max_entries=10) == (
        502, {"error": f"{FAILED}: it has more than 10 entries."})


async def test_unknown_archive_type_is_refused(runner: Runner) -> None:
    code = base64.b64encode(b"just some bytes, not an archive").decode()
    assert await init_archive(runner, code) == (
        502, {"error": "Initialization has failed due to: "
                       "There was an error uncompressing the action archive. The file type is unsupported."})


async def test_archive_without_package_json_or_index_js_is_refused(runner: Runner) -> None:
    assert await init_archive(runner, zipped({"other.js": "exports.main = () => ({})"})) == (
        502, {"error": "Initialization has failed due to: "
                       "Zipped actions must contain either package.json or index.js at the root."})


async def test_missing_entry_point_names_it(runner: Runner) -> None:
    status, reply = await init_archive(runner, zipped({"index.js": "exports.other = () => ({})"}), "handler")
    assert (status, reply) == (502, {"error": "Initialization has failed due to: Action entrypoint 'handler' is not a function."})
