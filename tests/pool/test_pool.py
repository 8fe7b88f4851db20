import asyncio
import json

import pytest

from pool import ActivationStatus, Job, Pool, PoolConfig, PoolOverloaded, PoolUnavailable, ResourceUse
from tests.pool.fake_driver import FakeDriver


def job(n: int = 0, memory_mb: int = 256, timeout_ms: int = 5000) -> Job:
    return Job(
        activation_id=f"{n:032x}",
        action_name="hello",
        code="function main(){}",
        main="main",
        binary=False,
        memory_mb=memory_mb,
        timeout_ms=timeout_ms,
        log_limit_bytes=1024,
        result_limit_bytes=1024,
        run_value=json.dumps({"n": n}).encode(),
        run_context={"activation_id": f"{n:032x}"},
    )


@pytest.fixture
def driver(tmp_path):
    return FakeDriver(tmp_path)


async def started(driver, **settings) -> Pool:
    pool = Pool(driver, PoolConfig(**{"idle_shrink_after_s": 0.5, **settings}), default_memory_mb=256)
    await pool.start()
    return pool


async def prewarmed(driver, count: int, **settings) -> Pool:
    """A started pool once its `count` prewarmed sandboxes are ready."""
    pool = await started(driver, min_prewarm=count, **settings)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == count)
    return pool


async def until(condition, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_pool_prewarms_its_minimum_at_start(driver):
    pool = await started(driver, min_prewarm=3)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 3)
    await pool.stop(grace_s=1)


async def test_a_job_runs_over_the_connection_opened_when_its_sandbox_was_created(driver):
    pool = await started(driver, min_prewarm=1)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    sandbox = driver.created[0]
    assert driver.connections(sandbox) == 1  # before any job could have been given to it
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    assert driver.requests[sandbox.name] == [(1, "/init"), (1, "/run")]
    await pool.stop(grace_s=1)


async def test_a_job_whose_kept_connection_the_runner_closed_runs_over_a_new_one(driver):
    pool = await started(driver, min_prewarm=1)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    sandbox = driver.created[0]
    await until(lambda: driver.connections(sandbox) == 1)  # the fake can hang up only what it has accepted
    driver.hang_up(sandbox)
    outcome = await pool.run(job())
    assert outcome.status is ActivationStatus.SUCCESS, outcome.result
    assert driver.requests[sandbox.name] == [(2, "/init"), (2, "/run")]
    await pool.stop(grace_s=1)


async def test_each_activation_gets_a_container_of_its_own_that_is_destroyed(driver):
    pool = await started(driver, min_prewarm=2)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 2)
    results = [await pool.run(job(n)) for n in range(5)]
    assert [json.loads(r.result)["echo"] for r in results] == [{"n": n} for n in range(5)]
    assert all(r.status is ActivationStatus.SUCCESS for r in results)
    await until(lambda: len(driver.destroyed) == 5)
    assert len({s.name for s in driver.destroyed}) == 5
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 2)
    await pool.stop(grace_s=1)


async def test_an_activation_carries_what_its_sandbox_used_read_before_the_sandbox_is_destroyed(driver):
    driver.use = ResourceUse(cpu_ms=3.5, peak_memory_bytes=48 * 1024 * 1024)  # reported only while alive
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job())
    assert result.resource_use == ResourceUse(cpu_ms=3.5, peak_memory_bytes=48 * 1024 * 1024)
    driver.use = None
    assert (await pool.run(job(1))).resource_use is None
    await pool.stop(grace_s=1)


async def test_a_warm_lease_is_not_a_cold_start(driver):
    pool = await started(driver, min_prewarm=1)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    result = await pool.run(job())
    assert not result.cold_start
    assert pool.snapshot().cold_starts == 0
    await pool.stop(grace_s=1)


async def test_an_empty_stock_makes_a_visible_cold_start(driver):
    driver.create_delay_s = 0.1
    pool = await started(driver, min_prewarm=1)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    warm = await pool.run(job())
    cold = await pool.run(job(memory_mb=512))  # no stock of 512 MB containers: one is created for it
    assert (warm.cold_start, cold.cold_start) == (False, True)
    assert cold.wait_ms > warm.wait_ms  # its wait includes the container's creation
    assert pool.snapshot().cold_starts == 1
    await pool.stop(grace_s=1)


async def test_the_run_body_carries_a_deadline(driver):
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job(timeout_ms=5000))
    assert int(json.loads(result.result)["deadline"]) > 0
    await pool.stop(grace_s=1)


async def test_pool_grows_with_the_arrival_rate_and_shrinks_back(driver):
    driver.create_delay_s = 0.2
    pool = await started(driver, min_prewarm=1, rate_window_s=1.0, max_parallel_creates=4)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    async def burst():
        await asyncio.gather(*(pool.run(job(n)) for n in range(10)))
    for _ in range(5):
        await burst()
        await asyncio.sleep(0.1)
    peak = pool.snapshot().stocks[0].target
    assert peak > 1
    await until(lambda: pool.snapshot().stocks[0].target == 1, timeout_s=10)
    await until(lambda: pool.snapshot().stocks[0].prewarmed <= 1, timeout_s=10)
    await pool.stop(grace_s=1)


async def test_a_burst_raises_the_prewarmed_target_before_the_steady_rate_moves(driver):
    driver.create_delay_s = 0.05
    pool = await started(driver, min_prewarm=1, rate_window_s=10.0, burst_window_s=0.5)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    await asyncio.gather(*(pool.run(job(n)) for n in range(20)))
    stock = pool.snapshot().stocks[0]
    assert stock.arrival_per_s < 2.5  # the 10 s estimate has barely moved
    assert stock.target > 5  # ...but the pool prepares for another burst like it
    await pool.stop(grace_s=1)


async def test_a_warm_lease_that_takes_the_last_prewarmed_sandbox_starts_its_replacement_before_the_runner_sees_it(driver):
    pool = await started(driver, min_prewarm=1)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)
    driver.calls.clear()
    await pool.run(job())
    assert driver.calls.index("create") < driver.calls.index("/init")
    await pool.stop(grace_s=1)


async def test_a_warm_lease_that_leaves_prewarmed_sandboxes_replaces_its_own_after_the_round_trips(driver, monkeypatch):
    pool = await prewarmed(driver, 3)
    monkeypatch.setattr("pool.pool._TICK_S", 60.0)  # no periodic rebalance in the middle of the activation ...
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 3)  # ... once the scaler ran since (this refill)
    driver.calls.clear()
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 3)  # replaced all the same
    assert driver.calls[:3] == ["/init", "/run", "create"]
    await pool.stop(grace_s=1)


async def test_a_long_activation_does_not_hold_up_its_replacement(driver):
    driver.run_delay_s = 1.0
    pool = await prewarmed(driver, 2)
    running = asyncio.create_task(pool.run(job()))
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 2)  # while it still runs
    assert not running.done()
    assert (await running).status is ActivationStatus.SUCCESS
    await pool.stop(grace_s=1)


async def test_memory_budget_caps_the_containers(driver):
    driver.create_delay_s = 0.05
    pool = await started(driver, min_prewarm=10, memory_budget_mb=512)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 2)
    assert pool.snapshot().stocks[0].creating == 0  # the pool stopped creating at the budget
    assert driver.alive == 2
    await pool.stop(grace_s=1)


@pytest.mark.parametrize("sentinels_first", [False, True])
async def test_logs_are_complete_whether_the_sentinels_come_before_or_after_the_reply(driver, sentinels_first):
    driver.sentinels_first = sentinels_first
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job())
    assert result.status is ActivationStatus.SUCCESS
    assert [line[31:] for line in result.logs] == ["stdout: running"]  # no "could not be collected" note
    await pool.stop(grace_s=1)


async def test_logs_that_never_say_they_are_complete_end_with_a_note_and_the_result_stands(driver):
    driver.sentinels = False
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job())
    assert result.status is ActivationStatus.SUCCESS
    assert "stdout: running" in result.logs[0]
    assert result.logs[-1].endswith("stderr: There was an issue while collecting your logs. Data might be missing.")
    await pool.stop(grace_s=1)


async def test_runner_that_dies_is_a_developer_error_with_logs(driver):
    driver.crash_on_run = True
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job())
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert json.loads(result.result) == {"error": "The action did not produce a valid response and exited unexpectedly."}
    assert "stdout: running" in result.logs[0]
    assert "Log data might be missing" in result.logs[-1]
    await pool.stop(grace_s=1)


async def test_oom_killed_runner_gets_the_memory_message(driver):
    driver.oom_on_run = True
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job())
    assert json.loads(result.result) == {"error": "The action exhausted its memory and was aborted."}
    await pool.stop(grace_s=1)


async def test_time_limit_is_a_developer_error_marked_timed_out(driver):
    driver.run_delay_s = 1.0
    pool = await started(driver, min_prewarm=1)
    result = await pool.run(job(timeout_ms=200))
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert result.timed_out
    assert json.loads(result.result) == {"error": "The action exceeded its time limits of 200 milliseconds."}
    await pool.stop(grace_s=1)


async def test_engine_down_fails_fast_and_the_pool_recovers(driver):
    driver.engine_down = True
    pool = await started(driver, min_prewarm=1)
    await until(lambda: not pool.snapshot().engine_available)
    with pytest.raises(PoolUnavailable, match="engine is unavailable"):
        await pool.run(job())
    driver.engine_down = False
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1, timeout_s=5)
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    await pool.stop(grace_s=1)


async def test_a_driver_bug_in_create_costs_a_failed_creation_not_a_creation_slot(driver, caplog):
    driver.crash_creates = 2
    pool = await started(driver, min_prewarm=2, max_parallel_creates=2, queue_timeout_s=10)
    assert (await pool.run(job())).status is ActivationStatus.SUCCESS
    await until(lambda: pool.snapshot().stocks[0].creating == 0 and pool.snapshot().stocks[0].prewarmed == 2)
    assert "a bug in the fake driver" in caplog.text  # logged with its traceback
    await pool.stop(grace_s=1)


async def test_waiting_too_long_for_a_container_is_overload(driver):
    driver.fail_creates = True
    pool = await started(driver, min_prewarm=0, queue_timeout_s=0.3)
    with pytest.raises(PoolOverloaded):
        await pool.run(job())
    await pool.stop(grace_s=1)


async def test_an_activation_that_would_wait_past_the_queue_timeout_is_refused_at_once(driver):
    driver.create_delay_s = 0.3
    pool = await started(driver, min_prewarm=0, max_parallel_creates=1, queue_timeout_s=1.0)
    await pool.run(job(memory_mb=512))  # a cold start: the pool learns how long a creation takes
    # (one size throughout: the arrival it just saw has the pool prewarm that size in the only slot)
    outcomes = await asyncio.gather(*(pool.run(job(n, memory_mb=512)) for n in range(8)), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, PoolOverloaded)]
    ran = [o for o in outcomes if not isinstance(o, Exception)]
    assert ran and all(r.status is ActivationStatus.SUCCESS for r in ran)
    assert refused and all("more than the 1 s an activation may wait" in str(o) for o in refused)
    assert len(ran) + len(refused) == 8
    await pool.stop(grace_s=1)


async def test_full_queue_is_refused_at_once(driver):
    driver.fail_creates = True
    pool = await started(driver, min_prewarm=0, max_queue=0)
    with pytest.raises(PoolOverloaded, match="already waiting"):
        await pool.run(job())
    await pool.stop(grace_s=1)


async def test_stop_lets_running_activations_finish_then_removes_everything(driver):
    driver.run_delay_s = 0.3
    pool = await prewarmed(driver, 2)
    running = asyncio.create_task(pool.run(job()))
    await until(lambda: pool.snapshot().stocks[0].leased == 1)
    await pool.stop(grace_s=5)
    assert (await running).status is ActivationStatus.SUCCESS
    assert driver.alive == 0
    with pytest.raises(PoolUnavailable, match="shutting down"):
        await pool.run(job())


async def test_stop_cuts_activations_past_the_grace(driver):
    driver.run_delay_s = 5
    pool = await started(driver, min_prewarm=1)
    running = asyncio.create_task(pool.run(job(timeout_ms=60000)))
    await until(lambda: pool.snapshot().stocks[0].leased == 1)
    await pool.stop(grace_s=0.2)
    result = await asyncio.wait_for(running, 2)
    assert result.status is ActivationStatus.DEVELOPER_ERROR
    assert driver.alive == 0


async def test_arrivals_faster_than_the_configured_slots_can_replace_get_more_creations_at_once(driver):
    # 2 slots of 0.2 s create at most 10/s; 12 activations arriving at once need more in flight.
    driver.create_delay_s = 0.2
    in_flight = most = 0
    create = driver.create

    async def counted(*args, **kwargs):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await create(*args, **kwargs)
        finally:
            in_flight -= 1

    driver.create = counted
    pool = await started(driver, min_prewarm=1, max_parallel_creates=2)
    await until(lambda: pool.snapshot().stocks[0].prewarmed == 1)  # one creation timed
    results = await asyncio.gather(*(pool.run(job(n)) for n in range(12)))
    assert all(r.status is ActivationStatus.SUCCESS for r in results)
    assert most > 2
    await pool.stop(grace_s=1)
