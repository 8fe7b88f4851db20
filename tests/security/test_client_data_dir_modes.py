"""The data directory is owner-only: directories 0700, files 0600, also when they existed looser."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench.serving import ServedWhisklet

pytestmark = pytest.mark.docker

FILES = ("whisklet.db", "whisklet.db-wal", "whisklet.db-shm", "wskprops")
DIRS = (".", "run")


def modes(data_dir: Path) -> dict[str, int]:
    found = {}
    for name in (*FILES, *DIRS):
        path = data_dir / name
        if path.exists():
            found[name] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def expected(data_dir: Path) -> dict[str, int]:
    return {name: 0o700 if name in DIRS else 0o600 for name in modes(data_dir)}


def test_the_database_its_wal_wskprops_and_the_run_directory_are_owner_only(tmp_path: Path):
    data_dir = tmp_path / "data"
    served = ServedWhisklet(data_dir).start()
    try:
        with served.client() as client:
            assert client.put("/api/v1/namespaces/_/triggers/t", json={}).status_code == 200  # a write: WAL
        seen = modes(data_dir)
        assert {"whisklet.db", "whisklet.db-wal", "wskprops", ".", "run"} <= set(seen)
        assert seen == expected(data_dir)
    finally:
        served.stop()


def test_looser_modes_left_by_an_earlier_run_are_tightened_at_start(tmp_path: Path):
    data_dir = tmp_path / "data"
    served = ServedWhisklet(data_dir).start()
    served.stop()
    for name in (*FILES, *DIRS):
        path = data_dir / name
        if path.exists():
            os.chmod(path, 0o755 if name in DIRS else 0o644)
    served.start()
    try:
        assert modes(data_dir) == expected(data_dir)
    finally:
        served.stop()
