"""Metrics fed by a real controller, pool (fake sandboxes) and throttle, read back from their exposition."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import LimitsConfig
from gateway.edge.metrics import Metrics
from gateway.invoke.admission import MinuteCounter, Throttle
from gateway.invoke.controller import Controller
from gateway.store import SqliteStore
from gateway.wire.errors import ApiError
from gateway.wire.models import Action, ActionLimits, Exec, Identity, NamespaceLimits
from pool import Pool, PoolConfig, PoolSnapshot, ResourceUse, StockSnapshot
from tests.pool.fake_driver import FakeDriver

GUEST = Identity("guest", "guest", "uuid", "uuid:key", NamespaceLimits())


def scraped(metrics: Metrics) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition, keyed by (sample name, labels)."""
    text = metrics.exposition().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scraped_once(metrics: Metrics, condition, timeout_s: float = 5.0):
    """The first scrape whose samples satisfy `condition`."""
    async with asyncio.timeout(timeout_s):
        while not condition(samples := scraped(metrics)):
            await asyncio.sleep(0.01)
    return samples


def action(memory_mb: int = 256) -> Action:
    return Action(
        namespace="guest", name="hello", version="0.0.1", publish=False,
        exec=Exec(kind="nodejs:20", code="function main(){}"), parameters=[], annotations=[],
        limits=ActionLimits(timeout=5000, memory=memory_mb), updated=0,
    )


@pytest.fixture
async def running(tmp_path):
    """A controller on a real pool whose hooks all feed one `Metrics`; the pool prewarms one container."""
    metrics = Metrics()
    driver = FakeDriver(tmp_path / "run")
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    pool = Pool(driver, PoolConfig(min_prewarm=1, queue_timeout_s=2.0), default_memory_mb=256, observer=metrics)
    metrics.watch_pool(pool.snapshot)
    await pool.start()
    throttle = Throttle(MinuteCounter(lambda: 0), MinuteCounter(lambda: 0), observer=metrics)
    controller = Controller(store, pool, throttle, LimitsConfig(concurrent_invocations=1),
                            api_host="http://127.0.0.1:3233", observer=metrics)
    yield controller, metrics, driver
    await controller.drain()
    await pool.stop(grace_s=1)
    await store.close()


async def invoke(controller: Controller, memory_mb: int = 256):
    return await controller.invoke(GUEST, action(memory_mb), {}, admission=controller.admit(GUEST),
                                   blocking=True, wait_ms=5000)


async def test_an_activation_is_counted_by_kind_and_status_with_its_times(running):
    controller, metrics, _ = running
    await invoke(controller)
    samples = scraped(metrics)
    assert value(samples, "whisklet_activations_total", kind="nodejs:20", status="success") == 1
    assert value(samples, "whisklet_activation_duration_seconds_count", kind="nodejs:20") == 1
    assert value(samples, "whisklet_activation_wait_seconds_count") == 1
    assert value(samples, "whisklet_activation_init_seconds_count") == 1


async def test_only_activations_without_a_cold_start_count_as_warm(running):
    controller, metrics, _ = running
    for _ in range(3):
        await invoke(controller)
    samples = scraped(metrics)
    cold = value(samples, "whisklet_cold_starts_total")
    assert value(samples, "whisklet_activation_warm_duration_seconds_count") == 3 - cold
    assert value(samples, "whisklet_activation_duration_seconds_count", kind="nodejs:20") == 3


async def test_what_the_sandbox_used_is_annotated_on_the_record_and_exported_as_histograms(running):
    controller, metrics, driver = running
    driver.use = ResourceUse(cpu_ms=12.4, peak_memory_bytes=70 * 1024 * 1024 + 5)
    invocation = await invoke(controller)
    assert invocation.record is not None
    notes = {note.key: note.value for note in invocation.record.annotations}
    assert (notes["cpuTime"], notes["maxMemory"]) == (12, 70)
    samples = scraped(metrics)
    assert value(samples, "whisklet_activation_cpu_seconds_count", kind="nodejs:20") == 1
    assert value(samples, "whisklet_activation_cpu_seconds_sum", kind="nodejs:20") == 0.012
    assert value(samples, "whisklet_activation_max_memory_bytes_bucket", kind="nodejs:20", le="6.7108864e+07") == 0
    assert value(samples, "whisklet_activation_max_memory_bytes_bucket", kind="nodejs:20", le="1.00663296e+08") == 1


async def test_an_activation_whose_use_is_unknown_has_no_use_annotations_nor_samples(running):
    controller, metrics, driver = running
    driver.use = None
    invocation = await invoke(controller)
    assert invocation.record is not None
    assert not {"cpuTime", "maxMemory"} & {note.key for note in invocation.record.annotations}
    assert ("whisklet_activation_cpu_seconds_count", frozenset({("kind", "nodejs:20")})) not in scraped(metrics)


async def test_an_activation_that_waited_for_a_new_container_is_a_cold_start(running):
    controller, metrics, driver = running
    driver.create_delay_s = 0.05
    await invoke(controller, memory_mb=512)  # no prewarmed container of this size
    samples = scraped(metrics)
    assert value(samples, "whisklet_cold_starts_total") == 1
    assert value(samples, "whisklet_activation_wait_seconds_bucket", le="0.01") == 0


async def test_an_activation_without_a_container_counts_as_an_internal_error(running):
    controller, metrics, driver = running
    driver.fail_creates = True
    with pytest.raises(ApiError) as refused:
        await invoke(controller, memory_mb=512)
    assert refused.value.status == 503
    samples = scraped(metrics)
    assert value(samples, "whisklet_activations_total", kind="nodejs:20", status="internal_error") == 1
    assert value(samples, "whisklet_container_create_failures_total") >= 1


async def test_containers_created_and_destroyed_are_timed(running):
    controller, metrics, _ = running
    await invoke(controller)
    await controller.drain()
    samples = await scraped_once(metrics, lambda s: value(s, "whisklet_container_destroy_seconds_count") >= 1)
    assert value(samples, "whisklet_container_destroy_seconds_count") == 1
    assert value(samples, "whisklet_container_create_seconds_count") >= 1


async def test_pool_gauges_show_the_pool_at_scrape_time(running):
    controller, metrics, _ = running
    first = await scraped_once(metrics, lambda s: value(s, "whisklet_pool_containers", state="prewarmed") == 1)
    assert value(first, "whisklet_pool_target_containers") == 1
    assert value(first, "whisklet_pool_engine_up") == 1
    await invoke(controller)
    after = scraped(metrics)
    assert value(after, "whisklet_pool_arrivals_per_second") > 0
    assert {"prewarmed", "leased", "creating", "destroying"} == {
        dict(labels)["state"] for name, labels in after if name == "whisklet_pool_containers"
    }


def test_pool_gauges_sum_every_memory_size():
    metrics = Metrics()
    stocks = (StockSnapshot(256, 3, 1, 2, 0, 4, 1.5), StockSnapshot(512, 1, 2, 0, 5, 2, 0.5))
    metrics.watch_pool(lambda: PoolSnapshot(stocks, 6, 1, 0.8, True))
    samples = scraped(metrics)
    assert value(samples, "whisklet_pool_containers", state="prewarmed") == 4
    assert value(samples, "whisklet_pool_containers", state="leased") == 3
    assert value(samples, "whisklet_pool_containers", state="creating") == 2
    assert value(samples, "whisklet_pool_containers", state="destroying") == 6
    assert value(samples, "whisklet_pool_target_containers") == 6
    assert value(samples, "whisklet_pool_arrivals_per_second") == 2.0
    assert value(samples, "whisklet_pool_waiting_activations") == 5
    assert value(samples, "whisklet_pool_create_estimate_seconds") == 0.8


async def test_a_throttled_invocation_is_counted_by_its_reason(running):
    controller, metrics, _ = running
    with controller.admit(GUEST), pytest.raises(ApiError) as refused:
        controller.admit(GUEST)  # concurrent_invocations = 1
    assert refused.value.status == 429
    samples = scraped(metrics)
    assert value(samples, "whisklet_throttled_requests_total", reason="concurrent_invocations") == 1
    assert value(samples, "whisklet_throttled_requests_total", reason="invocations_per_minute") == 0


def test_trigger_fires_are_counted_by_outcome():
    metrics = Metrics()
    metrics.trigger_fired(active_rules=2)
    metrics.trigger_fired(active_rules=0)
    metrics.trigger_fired(active_rules=1)
    samples = scraped(metrics)
    assert value(samples, "whisklet_trigger_fires_total", outcome="activated") == 2
    assert value(samples, "whisklet_trigger_fires_total", outcome="no_active_rule") == 1


def test_each_metrics_object_has_a_registry_of_its_own():
    first, second = Metrics(), Metrics()
    first.trigger_fired(active_rules=1)
    assert value(scraped(second), "whisklet_trigger_fires_total", outcome="activated") == 0


def test_pool_containers_by_kind_sit_beside_the_unchanged_totals():
    metrics = Metrics()
    stocks = (StockSnapshot(256, 3, 1, 2, 0, 4, 1.5, kind="nodejs:24"),
              StockSnapshot(512, 1, 0, 0, 0, 1, 0.5, kind="nodejs:24"),
              StockSnapshot(256, 2, 1, 1, 0, 2, 0.5, kind="nodejs:20"))
    metrics.watch_pool(lambda: PoolSnapshot(stocks, 0, 1, 0.8, True))
    samples = scraped(metrics)
    assert value(samples, "whisklet_pool_containers", state="prewarmed") == 6
    assert value(samples, "whisklet_pool_kind_containers", kind="nodejs:24", state="prewarmed") == 4
    assert value(samples, "whisklet_pool_kind_containers", kind="nodejs:20", state="prewarmed") == 2
    assert value(samples, "whisklet_pool_kind_containers", kind="nodejs:20", state="leased") == 1
    assert value(samples, "whisklet_pool_kind_containers", kind="nodejs:20", state="creating") == 1
