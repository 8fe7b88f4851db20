"""Choosing the sandbox driver from `pool.driver` (pool/sandbox/factory.py)."""

from __future__ import annotations

import logging

import pytest

from pool.config import PoolConfig
from pool.sandbox import factory
from pool.sandbox.factory import DriverUnsupported, choose

MISSING = ["bubblewrap is not installed: apt-get install bubblewrap or set pool.driver = \"docker\""]


async def test_docker_is_used_when_asked_for_without_probing_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "missing", lambda: pytest.fail("probed the host"))
    assert await choose("docker") == "docker"


async def test_auto_uses_the_sandbox_where_the_host_can_run_it_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(factory, "missing", list)
    with caplog.at_level(logging.INFO, logger="whisklet.pool"):
        assert await choose("auto") == "sandbox"
    assert "pool.driver = auto: using sandbox" in caplog.text


async def test_auto_falls_back_to_docker_and_logs_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(factory, "missing", lambda: MISSING)
    with caplog.at_level(logging.INFO, logger="whisklet.pool"):
        assert await choose("auto") == "docker"
    assert "using docker" in caplog.text and "apt-get install bubblewrap" in caplog.text


async def test_a_host_that_cannot_run_the_sandbox_asked_for_stops_start_up_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(factory, "missing", lambda: MISSING)
    with pytest.raises(DriverUnsupported, match="apt-get install bubblewrap"):
        await choose("sandbox")


def test_an_unknown_driver_is_refused_with_its_key() -> None:
    with pytest.raises(ValueError, match=r"pool\.driver"):
        PoolConfig(driver="lxc")
