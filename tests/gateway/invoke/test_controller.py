"""The controller on a real pool (fake sandboxes on Unix sockets) and a real SQLite store."""

import asyncio

import msgspec
import pytest

from gateway.clock import FakeClock
from gateway.config import LimitsConfig
from gateway.invoke.admission import MinuteCounter, Throttle
from gateway.invoke.controller import Controller, merge_arguments
from gateway.store import SqliteStore
from gateway.wire.errors import ApiError
from gateway.wire.models import Action, ActionLimits, Exec, Identity, KeyValue, NamespaceLimits, record_decoder
from pool import Pool, PoolConfig
from tests.pool.fake_driver import FakeDriver

GUEST = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits())


def action(**fields) -> Action:
    values = dict(
        namespace="guest", name="hello", version="0.0.1", publish=False,
        exec=Exec(kind="nodejs:20", code="function main(){}"), parameters=[], annotations=[],
        limits=ActionLimits(timeout=5000), updated=0,
    )
    values.update(fields)
    return Action(**values)


@pytest.fixture
def clock() -> FakeClock:
    """The controller's clock: records are timed by it and a blocking wait runs out only when it moves."""
    return FakeClock()


@pytest.fixture
async def setup(tmp_path, clock):
    driver = FakeDriver(tmp_path / "run")
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    pool = Pool(driver, PoolConfig(min_prewarm=1, queue_timeout_s=1.0), default_memory_mb=256)
    await pool.start()
    controller = Controller(store, pool, Throttle(MinuteCounter(clock.wall_ms), MinuteCounter(clock.wall_ms)),
                            LimitsConfig(), api_host="http://127.0.0.1:3233", clock=clock)
    yield controller, store, driver
    await controller.drain()
    await pool.stop(grace_s=1)
    await store.close()


async def test_blocking_invoke_returns_the_record_without_logs_and_stores_it_with_logs(setup):
    controller, store, _ = setup
    invocation = await controller.invoke(GUEST, action(), {"n": 1}, admission=controller.admit(GUEST),
                                         blocking=True, wait_ms=5000)
    record = invocation.record
    assert record.response.status == "success"
    assert record.logs == []
    stored = record_decoder.decode((await store.get_activation("guest", invocation.activation_id)).doc)
    assert stored.logs and stored.logs[0].endswith("stdout: running")
    assert msgspec.json.decode(msgspec.json.encode(stored.response.result))["echo"] == {"n": 1}


async def test_non_blocking_invoke_answers_at_once_and_the_record_follows(setup):
    controller, store, _ = setup
    invocation = await controller.invoke(GUEST, action(), {}, admission=controller.admit(GUEST),
                                         blocking=False, wait_ms=5000)
    assert invocation.record is None
    await controller.drain()
    assert await store.get_activation("guest", invocation.activation_id) is not None


async def test_blocking_wait_running_out_returns_no_record_and_the_activation_goes_on(setup, clock):
    controller, store, driver = setup
    driver.run_delay_s = 0.5  # the activation is still running when the clock passes the wait
    with controller.admit(GUEST) as admission:
        invoking = asyncio.create_task(
            controller.invoke(GUEST, action(), {}, admission=admission, blocking=True, wait_ms=100)
        )
        await clock.waited(1)
        clock.advance(0.1)
        invocation = await invoking
    assert invocation.record is None
    await controller.drain()
    stored = await store.get_activation("guest", invocation.activation_id)
    assert record_decoder.decode(stored.doc).response.status == "success"


async def test_no_container_is_503_for_a_blocking_caller_and_a_stored_internal_error(setup):
    controller, store, driver = setup
    await asyncio.sleep(0.1)
    driver.fail_creates = True
    heavy = action(limits=ActionLimits(timeout=5000, memory=512))  # no prewarmed stock at 512 MB
    with pytest.raises(ApiError) as raised:
        await controller.invoke(GUEST, heavy, {}, admission=controller.admit(GUEST), blocking=True, wait_ms=5000)
    assert raised.value.status == 503
    rows = await store.list_activations("guest", name=None, since=None, upto=None, limit=10, skip=0)
    assert record_decoder.decode(rows[0].doc).response.status == "whisk internal error"


async def test_the_concurrency_slot_is_released_when_the_activation_ends(setup):
    controller, _, _ = setup
    limited = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits(concurrentInvocations=1))
    for _ in range(3):
        await controller.invoke(limited, action(), {}, admission=controller.admit(limited), blocking=True, wait_ms=5000)


async def test_a_refused_invoke_releases_its_slot(setup):
    controller, _, _ = setup
    limited = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits(concurrentInvocations=1))
    final = action(parameters=[KeyValue("a", 1)], annotations=[KeyValue("final", True)])
    for _ in range(2):
        with pytest.raises(ApiError, match="not allowed"), controller.admit(limited) as admission:
            await controller.invoke(limited, final, {"a": 2}, admission=admission, blocking=True, wait_ms=5000)


async def test_a_non_blocking_activation_holds_its_slot_until_it_ends(setup):
    controller, _, driver = setup
    driver.run_delay_s = 0.5
    limited = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits(concurrentInvocations=1))
    with controller.admit(limited) as admission:
        await controller.invoke(limited, action(), {}, admission=admission, blocking=False, wait_ms=0)
    with pytest.raises(ApiError) as refused:
        controller.admit(limited)
    assert refused.value.status == 429
    await controller.drain()
    with controller.admit(limited):
        pass


def test_payload_overrides_parameters():
    merged = merge_arguments(action(parameters=[KeyValue("a", 1), KeyValue("b", 2)]), {"b": 3})
    assert merged == {"a": 1, "b": 3}


def test_final_action_refuses_overriding_a_set_parameter_but_not_an_unset_one():
    final = action(parameters=[KeyValue("a", 1), KeyValue("b", None)], annotations=[KeyValue("final", True)])
    with pytest.raises(ApiError, match="not allowed"):
        merge_arguments(final, {"a": 2})
    assert merge_arguments(final, {"b": 2}) == {"a": 1, "b": 2}


@pytest.mark.parametrize("blocking", [True, False])
async def test_a_failure_inside_whisklet_while_running_still_ends_with_an_internal_error_record(setup, blocking):
    controller, store, _ = setup

    async def broken_run(job):
        raise RecursionError("maximum recursion depth exceeded")  # as a too-deep result once did

    controller._pool.run = broken_run
    invocation = await controller.invoke(GUEST, action(), {}, admission=controller.admit(GUEST),
                                         blocking=blocking, wait_ms=5000)
    await controller.drain()
    stored = record_decoder.decode((await store.get_activation("guest", invocation.activation_id)).doc)
    assert stored.response.status == "whisk internal error"
    assert "server log" in stored.response.result["error"]
    if blocking:
        assert invocation.record is not None and invocation.record.response.status == "whisk internal error"


async def test_records_are_timed_by_the_controllers_clock(setup, clock):
    controller, store, driver = setup
    driver.fail_creates = True
    heavy = action(limits=ActionLimits(timeout=5000, memory=512))  # no stock at 512 MB: it never runs
    with pytest.raises(ApiError), controller.admit(GUEST) as admission:
        await controller.invoke(GUEST, heavy, {}, admission=admission, blocking=True, wait_ms=5000)
    [row] = await store.list_activations("guest", name=None, since=None, upto=None, limit=10, skip=0)
    record = record_decoder.decode(row.doc)
    assert record.start == record.end == clock.wall_ms()
