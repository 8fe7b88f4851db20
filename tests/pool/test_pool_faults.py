"""The pool when containers die behind its back and the engine goes away and comes back."""

import asyncio
import json

import pytest

from pool import ActivationStatus, Job, Pool, PoolConfig, PoolUnavailable
from tests.pool.fake_driver import FakeDriver


def job(n: int = 0) -> Job:
    return Job(
        activation_id=f"{n:032x}", action_name="hello", code="function main(){}", main="main", binary=False,
        memory_mb=256, timeout_ms=5000, log_limit_bytes=1024, result_limit_bytes=1024,
        run_value=json.dumps({"n": n}).encode(), run_context={"activation_id": f"{n:032x}"},
    )


@pytest.fixture
def driver(tmp_path):
    return FakeDriver(tmp_path)


async def started(driver: FakeDriver, min_prewarm: int) -> Pool:
    pool = Pool(driver, PoolConfig(min_prewarm=min_prewarm, queue_timeout_s=5.0), default_memory_mb=256)
    await pool.start()
    await until(lambda: pool.snapshot().stocks[0].prewarmed == min_prewarm)
    # The pool opened a connection to each when it was created: a `kill` before the fake runner has
    # accepted it would leave it open and served, unlike a real killed process's.
    await until(lambda: all(driver.connections(sandbox) >= 1 for sandbox in driver.created))
    return pool


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_prewarmed_container_that_died_is_skipped_and_the_activation_runs_in_another(driver):
    pool = await started(driver, min_prewarm=2)
    dead = driver.created[0]
    driver.kill(dead)
    outcome = await pool.run(job())
    assert outcome.status is ActivationStatus.SUCCESS
    await until(lambda: dead in driver.destroyed)
    await pool.stop(grace_s=1)


async def test_every_dead_idle_container_is_cleared_once_one_is_found(driver):
    pool = await started(driver, min_prewarm=3)
    first, second, third = driver.created[:3]
    for sandbox in (first, second, third):
        driver.kill(sandbox)
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    await until(lambda: {first, second, third} <= set(driver.destroyed))
    await pool.stop(grace_s=1)


async def test_dead_containers_and_an_unreachable_engine_give_a_clear_503_reason(driver):
    pool = await started(driver, min_prewarm=2)
    driver.engine_down = True  # the engine stopped and took its containers with it
    for sandbox in driver.created:
        driver.kill(sandbox)
    with pytest.raises(PoolUnavailable, match=r"engine is unavailable|dead before they could be used"):
        await pool.run(job())
    await pool.stop(grace_s=1)


async def test_containers_the_engine_could_not_destroy_are_destroyed_when_it_is_back(driver):
    pool = await started(driver, min_prewarm=1)
    driver.engine_down = True
    stranded = driver.created[0]
    driver.kill(stranded)
    with pytest.raises(PoolUnavailable):
        await pool.run(job())
    await until(lambda: pool.snapshot().destroying == 0)  # its destroy was tried while the engine was down
    assert stranded not in driver.destroyed
    driver.engine_down = False
    await until(lambda: stranded in driver.destroyed, timeout_s=15)
    assert (await pool.run(job(1))).status is ActivationStatus.SUCCESS
    await pool.stop(grace_s=1)


async def test_the_pool_says_why_it_cannot_serve_only_when_nothing_is_left_to_serve_with(driver):
    pool = await started(driver, min_prewarm=1)
    assert pool.unavailable_reason(256) is None
    driver.engine_down = True
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS  # the prewarmed one still serves
    await until(lambda: pool.unavailable_reason(256) is not None)
    assert "engine is unavailable" in pool.unavailable_reason(256)
    driver.engine_down = False
    await until(lambda: pool.unavailable_reason(256) is None, timeout_s=15)
    await pool.stop(grace_s=1)
