"""The owner-only data directory (gateway/datadir.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.datadir import owner_only_dir, owner_only_file


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_directories_are_made_or_tightened_to_0700(tmp_path: Path):
    made = owner_only_dir(tmp_path / "a" / "b")
    assert mode(made) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    assert mode(owner_only_dir(loose)) == 0o700


def test_files_are_made_or_tightened_to_0600_and_keep_their_content(tmp_path: Path):
    assert mode(owner_only_file(tmp_path / "new")) == 0o600
    existing = tmp_path / "existing"
    existing.write_text("kept")
    os.chmod(existing, 0o644)
    assert mode(owner_only_file(existing)) == 0o600
    assert existing.read_text() == "kept"
    with pytest.raises(FileNotFoundError):
        owner_only_file(tmp_path / "absent", create=False)


def test_a_symbolic_link_in_place_of_a_file_is_refused(tmp_path: Path):
    target = tmp_path / "elsewhere"
    target.write_text("secret")
    os.chmod(target, 0o644)
    (tmp_path / "wskprops").symlink_to(target)
    with pytest.raises(OSError):
        owner_only_file(tmp_path / "wskprops")
    assert mode(target) == 0o644
