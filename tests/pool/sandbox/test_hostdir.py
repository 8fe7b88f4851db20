"""Sandbox host directories: the socket check never follows a link, removal never leaves the directory."""

from __future__ import annotations

import socket
from pathlib import Path

from pool.sandbox.hostdir import (
    NAME_PREFIX,
    SOCKET_NAME,
    is_socket,
    make_host_dir,
    remove_host_dir,
    remove_leftover_dirs,
)


def test_a_bound_socket_counts_but_a_link_to_it_does_not(tmp_path: Path) -> None:
    path = tmp_path / SOCKET_NAME
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        (tmp_path / "link.sock").symlink_to(path)
        assert is_socket(path)
        assert not is_socket(tmp_path / "link.sock")
        assert not is_socket(tmp_path / "missing.sock")


def test_removing_a_host_directory_removes_links_in_it_but_not_what_they_point_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    run_dir = tmp_path / "run"
    host_dir = run_dir / (NAME_PREFIX + "a")
    make_host_dir(run_dir, host_dir, size_mb=0)
    (host_dir / "escape").symlink_to(outside)
    remove_host_dir(host_dir)
    remove_host_dir(host_dir)  # harmless to repeat
    assert not host_dir.exists()
    assert (outside / "keep").read_text() == "host file"


def test_leftover_sweep_removes_only_whisklet_directories(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    for name in ("a", "b"):
        make_host_dir(run_dir, run_dir / (NAME_PREFIX + name), size_mb=0)
    (run_dir / "other").mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (run_dir / (NAME_PREFIX + "link")).symlink_to(target)
    remove_leftover_dirs(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["other", NAME_PREFIX + "link"]
    assert target.is_dir()
    remove_leftover_dirs(tmp_path / "never-made")  # a run directory not made yet is fine
