"""The `[pool]` configuration: tuning left at 0 takes the driver's own numbers."""

from __future__ import annotations

import pytest

from pool.config import DRIVER_TUNING, PoolConfig
from pool.sandbox.docker.tuning import POOL_TUNING as DOCKER
from pool.sandbox.namespace.tuning import POOL_TUNING as SANDBOX


def test_tuning_left_at_zero_follows_the_driver_in_use() -> None:
    for name, tuning in (("sandbox", SANDBOX), ("docker", DOCKER)):
        config = PoolConfig().for_driver(name)
        assert DRIVER_TUNING[name] is tuning
        assert (config.max_parallel_creates, config.headroom, config.cold_start_ratio) == (
            tuning.max_parallel_creates, tuning.headroom, tuning.cold_start_ratio
        )
    assert PoolConfig(driver="docker").max_parallel_creates == DOCKER.max_parallel_creates


def test_auto_has_usable_numbers_before_it_chose_a_driver() -> None:
    config = PoolConfig()
    assert (config.max_parallel_creates, config.headroom, config.cold_start_ratio) == (
        SANDBOX.max_parallel_creates, SANDBOX.headroom, SANDBOX.cold_start_ratio
    )


@pytest.mark.parametrize("driver", ["sandbox", "docker"])
def test_explicit_tuning_is_kept_whichever_driver_runs(driver: str) -> None:
    for explicit in (1, 3, 4, 8):
        assert PoolConfig(max_parallel_creates=explicit).for_driver(driver).max_parallel_creates == explicit
    chosen = PoolConfig(headroom=2.5, cold_start_ratio=0.05).for_driver(driver)
    assert (chosen.headroom, chosen.cold_start_ratio) == (2.5, 0.05)


def test_one_explicit_number_leaves_the_others_to_the_driver() -> None:
    config = PoolConfig(headroom=3.0).for_driver("docker")
    assert (config.max_parallel_creates, config.headroom, config.cold_start_ratio) == (
        DOCKER.max_parallel_creates, 3.0, DOCKER.cold_start_ratio
    )


def test_the_driver_in_use_replaces_auto() -> None:
    assert PoolConfig().for_driver("docker").driver == "docker"


@pytest.mark.parametrize("key, value", [
    ("max_parallel_creates", -1), ("headroom", 0.5), ("cold_start_ratio", 1.0), ("cold_start_ratio", -0.1),
    ("burst_window_s", 0.0), ("burst_window_s", 20.0),
])
def test_an_out_of_range_setting_names_the_key(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"pool.{key}"):
        PoolConfig(**{key: value})


def test_the_shipped_configuration_leaves_the_tuning_to_the_driver() -> None:
    from gateway.config import load_config  # the defaults file, config/whisklet.toml

    for name, tuning in (("sandbox", SANDBOX), ("docker", DOCKER)):
        config = load_config(environ={}).pool.for_driver(name)
        assert (config.max_parallel_creates, config.headroom, config.cold_start_ratio) == (
            tuning.max_parallel_creates, tuning.headroom, tuning.cold_start_ratio
        )
