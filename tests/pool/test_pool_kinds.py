"""The pool per runtime kind: each kind's activations run in sandboxes of that kind, prewarmed only as its
own traffic asks; the default kind keeps its minimum; idle sandboxes of every kind share one memory budget."""

from __future__ import annotations

import asyncio
import dataclasses

from pool import Pool, PoolConfig
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from tests.pool.test_pool import driver, job, until  # noqa: F401 (fixture)


async def started(driver, **settings) -> Pool:
    pool = Pool(driver, PoolConfig(**{"idle_shrink_after_s": 0.5, **settings}), default_memory_mb=256)
    await pool.start()
    return pool


def prewarmed(pool: Pool, kind: str) -> int:
    return sum(s.prewarmed for s in pool.snapshot().stocks if s.kind == kind)


async def test_a_job_of_a_kind_runs_in_a_sandbox_of_that_kind(driver):
    pool = await started(driver, min_prewarm=1)
    await until(lambda: prewarmed(pool, DEFAULT_KIND) == 1)
    result = await pool.run(dataclasses.replace(job(1), kind="nodejs:20"))
    assert result.cold_start  # no nodejs:20 sandbox was kept before its traffic came
    assert [s.kind for s in driver.created if s.kind == "nodejs:20"] == ["nodejs:20"]
    assert prewarmed(pool, DEFAULT_KIND) == 1  # the default kind's prewarmed one was not taken
    await pool.stop(grace_s=1)


async def test_only_the_default_kind_keeps_its_minimum_and_others_follow_their_traffic(driver):
    driver.create_delay_s = 0.02
    pool = await started(driver, min_prewarm=2, rate_window_s=1.0, burst_window_s=0.5)
    await until(lambda: prewarmed(pool, DEFAULT_KIND) == 2)
    for _ in range(3):
        await asyncio.gather(*(pool.run(dataclasses.replace(job(n), kind="nodejs:22")) for n in range(6)))
    assert max(s.target for s in pool.snapshot().stocks if s.kind == "nodejs:22") > 0
    await until(lambda: prewarmed(pool, "nodejs:22") == 0, timeout_s=15)  # shrinks back once traffic stops
    assert prewarmed(pool, DEFAULT_KIND) == 2
    await pool.stop(grace_s=1)


async def test_idle_sandboxes_of_every_kind_stay_within_one_memory_budget(driver):
    driver.create_delay_s = 0.02
    pool = await started(driver, min_prewarm=2, memory_budget_mb=1024, burst_window_s=5.0, rate_window_s=5.0)
    await until(lambda: prewarmed(pool, DEFAULT_KIND) == 2)
    for kind in ("nodejs:20", "nodejs:22"):
        await asyncio.gather(*(pool.run(dataclasses.replace(job(n), kind=kind)) for n in range(4)))
    for _ in range(20):  # whatever the targets ask, the sum stays within the budget
        stocks = pool.snapshot().stocks
        assert sum((s.prewarmed + s.leased + s.creating) * s.memory_mb for s in stocks) <= 1024
        await asyncio.sleep(0.02)
    await pool.stop(grace_s=1)
