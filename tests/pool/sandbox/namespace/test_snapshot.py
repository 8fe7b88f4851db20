"""Sandboxes start the runner from its Node.js startup snapshot, one blob per heap size (snapshot.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.probe import run_action
from pool.sandbox.namespace.snapshot import ensure_blob
from tests.pool.sandbox.namespace.sandboxes import (
    namespace_missing,
    opened,
    temporary_home,
)

pytestmark = pytest.mark.skipif(bool(namespace_missing()), reason="the namespace sandbox cannot run here")

HOW_STARTED = "function main(p) { return {args: process.execArgv, hello: p.name}; }"


@pytest.fixture
async def home() -> AsyncIterator[tuple[Path, Path]]:
    async with temporary_home() as paths:
        yield paths


async def test_runner_starts_from_the_snapshot_of_its_heap_size_and_serves_the_same_protocol(
    home: tuple[Path, Path],
) -> None:
    async with opened("sandbox", *home) as driver:
        for memory_mb in (128, 256):
            sandbox = await driver.create(memory_mb)
            try:
                seen = await run_action(sandbox, HOW_STARTED, {"name": "Ada"})
            finally:
                await driver.destroy(sandbox)
            blob = f"/opt/whisklet/snapshots/heap-{memory_mb * 4}.blob"
            assert seen == {"args": ["--snapshot-blob", blob, f"--max-old-space-size={memory_mb * 4}", "--expose-gc"],
                            "hello": "Ada"}


def test_a_blob_that_cannot_be_built_is_reported_and_leaves_a_plain_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert ensure_blob(tmp_path, ["--expose-gc"], 512) is False  # no node and no entry in this "tree"
    assert "sandboxes start plainly" in caplog.text
    assert list(tmp_path.rglob("*.blob")) == []
