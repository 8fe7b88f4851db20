"""The staircase's ceiling fits the driver: the machine's limit for the sandbox driver, Docker's churn for Docker."""

from __future__ import annotations

import asyncio

import pytest

from bench import drivers, limit
from bench.ceiling import BARE_NODE, DOCKER_CHURN, Ceiling


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand-ins for the two measurements, recording which one ran."""
    calls: list[str] = []

    async def bare_node_rate(cycles: int, parallel: int) -> tuple[float, float]:
        calls.append("bare node")
        return 40.0, 95.0

    async def docker_churn_rate(containers: int, parallel: int) -> Ceiling:
        calls.append("docker churn")
        return Ceiling(containers, parallel, containers / 7.5)

    monkeypatch.setattr(drivers, "bare_node_rate", bare_node_rate)
    monkeypatch.setattr(limit, "docker_churn_rate", docker_churn_rate)
    return calls


def test_the_sandbox_driver_is_measured_against_the_bare_node_spawn_rate(measured: list[str]) -> None:
    ceiling = asyncio.run(limit.ceiling_for("sandbox", 20))
    assert measured == ["bare node"]
    assert ceiling.name == BARE_NODE
    assert ceiling.per_s == pytest.approx(40.0)


def test_the_docker_driver_is_measured_against_the_raw_docker_churn(measured: list[str]) -> None:
    ceiling = asyncio.run(limit.ceiling_for("docker", 15))
    assert measured == ["docker churn"]
    assert ceiling.name == DOCKER_CHURN
    assert ceiling.per_s == pytest.approx(7.5)


def test_an_unknown_driver_has_no_ceiling(measured: list[str]) -> None:
    with pytest.raises(ValueError, match="use sandbox or docker"):
        asyncio.run(limit.ceiling_for("auto", 10))
    assert measured == []
