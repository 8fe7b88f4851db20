"""The `[pool]` configuration: `max_parallel_creates` left at 0 takes the driver's own number."""

from __future__ import annotations

import pytest

from pool.config import PARALLEL_CREATES, PoolConfig


def test_parallel_creates_left_at_zero_follow_the_driver_in_use() -> None:
    assert PoolConfig().for_driver("sandbox").max_parallel_creates == PARALLEL_CREATES["sandbox"] == 4
    assert PoolConfig().for_driver("docker").max_parallel_creates == PARALLEL_CREATES["docker"] == 3
    assert PoolConfig(driver="docker").max_parallel_creates == 3


def test_auto_has_a_usable_number_before_it_chose_a_driver() -> None:
    assert PoolConfig().max_parallel_creates == PARALLEL_CREATES["sandbox"]


@pytest.mark.parametrize("driver", ["sandbox", "docker"])
def test_an_explicit_number_of_parallel_creates_is_kept_whichever_driver_runs(driver: str) -> None:
    for explicit in (1, 3, 4, 8):
        assert PoolConfig(max_parallel_creates=explicit).for_driver(driver).max_parallel_creates == explicit


def test_the_driver_in_use_replaces_auto() -> None:
    assert PoolConfig().for_driver("docker").driver == "docker"


def test_a_negative_number_of_parallel_creates_names_the_key() -> None:
    with pytest.raises(ValueError, match="pool.max_parallel_creates"):
        PoolConfig(max_parallel_creates=-1)
