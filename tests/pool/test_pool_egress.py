"""Stocks per egress mode: a job runs in a sandbox created with its egress, and only the default one is prewarmed."""

from __future__ import annotations

import dataclasses

from pool import ActivationStatus, Pool, PoolConfig
from tests.pool.fake_driver import FakeDriver
from tests.pool.test_pool import job, until


async def test_a_job_runs_in_a_sandbox_created_with_its_egress_and_the_default_egress_is_prewarmed(tmp_path):
    driver = FakeDriver(tmp_path)
    pool = Pool(driver, PoolConfig(min_prewarm=2, idle_shrink_after_s=0.5), default_memory_mb=256,
                default_egress="internet")
    await pool.start()
    try:
        await until(lambda: sum(s.prewarmed for s in pool.snapshot().stocks) == 2)
        assert {s.egress for s in pool.snapshot().stocks} == {"internet"}
        assert {s.egress for s in driver.created} == {"internet"}
        result = await pool.run(dataclasses.replace(job(1), egress="none"))
        assert result.status is ActivationStatus.SUCCESS and result.cold_start
        assert driver.created[-1].egress == "none"
        assert (await pool.run(dataclasses.replace(job(2), egress="internet"))).cold_start is False
    finally:
        await pool.stop(grace_s=1)
