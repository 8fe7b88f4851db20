"""The `[pool]` configuration: tuning left at 0 takes the driver's own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pool.config import DRIVER_TUNING, PoolConfig, machine_memory_budget_mb, mem_total_mb
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


@pytest.mark.parametrize("mem_total_mb, budget_mb", [
    (900, 1024), (3_900, 1024), (7_900, 3072), (15_900, 5120), (24_105, 8192), (64_000, 21_504), (1_000_000, 65_536),
])
def test_a_budget_left_at_zero_is_a_third_of_the_machine_to_the_nearest_gib_within_1_to_64(
    mem_total_mb: int, budget_mb: int
) -> None:
    assert machine_memory_budget_mb(mem_total_mb) == budget_mb


def test_the_machines_memory_is_read_from_meminfo_and_unknown_where_it_cannot_be(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683664 kB\nMemFree:         1000000 kB\n")
    assert mem_total_mb(str(meminfo)) == 24_105
    meminfo.write_text("MemFree: 1 kB\n")
    assert mem_total_mb(str(meminfo)) is None
    assert mem_total_mb(str(tmp_path / "absent")) is None


def test_the_default_budget_follows_this_machine_and_an_explicit_one_is_kept() -> None:
    total_mb = mem_total_mb()
    assert total_mb is not None  # Linux
    assert PoolConfig().memory_budget_mb == machine_memory_budget_mb(total_mb)
    assert PoolConfig().for_driver("docker").memory_budget_mb == machine_memory_budget_mb(total_mb)
    assert PoolConfig(memory_budget_mb=4096).for_driver("sandbox").memory_budget_mb == 4096


def test_the_shipped_configuration_leaves_the_budget_to_the_machine() -> None:
    from gateway.config import load_config

    total_mb = mem_total_mb()
    assert total_mb is not None
    assert load_config(environ={}).pool.memory_budget_mb == machine_memory_budget_mb(total_mb)
    assert load_config(environ={"WHISKLET_POOL_MEMORY_BUDGET_MB": "2048"}).pool.memory_budget_mb == 2048
