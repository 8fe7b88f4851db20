"""Prometheus metrics: what the gateway and the pool report, exported at `GET /metrics`.

Metric names carry base units (seconds, per second); labels come from bounded sets only (route templates,
methods, status codes, kinds, activation statuses, throttle reasons, container states): never an action
name, a namespace or an id. `config/grafana/dashboards/whisklet.json` is built on exactly these names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.invoke.observer import GatewayObserver, ThrottleReason
from gateway.invoke.records import Ended
from pool import PoolObserver, PoolSnapshot

UNMATCHED_ROUTE = "unmatched"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_FAST_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RUN_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_CREATE_S = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
_DESTROY_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CPU_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_MIB = 1024 * 1024
_MEMORY_BYTES = tuple(mb * _MIB for mb in (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048))


class Metrics(GatewayObserver, PoolObserver):
    """Whisklet's metrics in a registry of their own, fed by the gateway's and the pool's hooks.

    1. Counters and histograms are updated synchronously by the hooks; pool gauges are read from
       `Pool.snapshot()` at scrape time (`watch_pool`), never polled.
    2. Label sets known in advance (throttle reasons, trigger outcomes) are created at zero, so a
       query over them returns series before the first event.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.activations = Counter(
            "whisklet_activations", "Activations ended, by action kind and activation status.",
            ["kind", "status"], registry=registry,
        )
        self.cold_starts = Counter(
            "whisklet_cold_starts", "Activations that found no prewarmed container and waited for one to be created.",
            registry=registry,
        )
        self.duration = Histogram(
            "whisklet_activation_duration_seconds", "Activation run time (the record's duration), by kind.",
            ["kind"], buckets=_RUN_S, registry=registry,
        )
        self.warm_duration = Histogram(
            "whisklet_activation_warm_duration_seconds",
            "Run time (the record's duration) of activations that found a prewarmed container: no cold start.",
            buckets=_RUN_S, registry=registry,
        )
        self.wait = Histogram(
            "whisklet_activation_wait_seconds", "Time an activation waited before its container ran it (waitTime).",
            buckets=_FAST_S, registry=registry,
        )
        self.init = Histogram(
            "whisklet_activation_init_seconds", "Time the action's /init took in its container (initTime).",
            buckets=_FAST_S, registry=registry,
        )
        self.cpu = Histogram(
            "whisklet_activation_cpu_seconds", "CPU time the activation's sandbox used (cpuTime), by kind.",
            ["kind"], buckets=_CPU_S, registry=registry,
        )
        self.max_memory = Histogram(
            "whisklet_activation_max_memory_bytes", "Peak memory of the activation's sandbox (maxMemory), by kind.",
            ["kind"], buckets=_MEMORY_BYTES, registry=registry,
        )
        self.container_create = Histogram(
            "whisklet_container_create_seconds", "Time to create and start a container until its runner answers.",
            buckets=_CREATE_S, registry=registry,
        )
        self.container_destroy = Histogram(
            "whisklet_container_destroy_seconds", "Time to kill and remove a container.",
            buckets=_DESTROY_S, registry=registry,
        )
        self.create_failures = Counter(
            "whisklet_container_create_failures", "Container creations that failed or timed out.", registry=registry,
        )
        self.throttles = Counter(
            "whisklet_throttled_requests", "Requests refused with 429, by the namespace limit they exceeded.",
            ["reason"], registry=registry,
        )
        self.trigger_fires = Counter(
            "whisklet_trigger_fires", "Trigger fires that were not throttled, by outcome.",
            ["outcome"], registry=registry,
        )
        self.http_requests = Counter(
            "whisklet_http_requests", "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "code"], registry=registry,
        )
        self.http_duration = Histogram(
            "whisklet_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
            ["method", "route"], buckets=_FAST_S, registry=registry,
        )
        ProcessCollector(registry=registry)
        for reason in ThrottleReason:
            self.throttles.labels(reason.value)
        for outcome in ("activated", "no_active_rule"):
            self.trigger_fires.labels(outcome)

    def watch_pool(self, snapshot: Callable[[], PoolSnapshot]) -> None:
        """Export the pool's gauges, read from `snapshot()` at each scrape."""
        self.registry.register(PoolCollector(snapshot))

    def exposition(self) -> bytes:
        """The text format of every metric, as `GET /metrics` answers it."""
        return generate_latest(self.registry)

    # GatewayObserver

    def activation_ended(self, ended: Ended) -> None:
        self.activations.labels(ended.kind, ended.status.name.lower()).inc()
        if isinstance(duration_ms := ended.record.duration, int):
            self.duration.labels(ended.kind).observe(duration_ms / 1000)
            if not ended.cold_start:
                self.warm_duration.observe(duration_ms / 1000)
        self.wait.observe(ended.wait_ms / 1000)
        if ended.init_ms is not None:
            self.init.observe(ended.init_ms / 1000)
        if ended.cold_start:
            self.cold_starts.inc()
        if (use := ended.resource_use) is not None:  # as the cpuTime / maxMemory annotations say it: whole ms, whole MB
            self.cpu.labels(ended.kind).observe(round(use.cpu_ms) / 1000)
            if use.peak_memory_bytes is not None:
                self.max_memory.labels(ended.kind).observe(use.peak_memory_bytes // _MIB * _MIB)

    def throttled(self, reason: ThrottleReason) -> None:
        self.throttles.labels(reason.value).inc()

    def trigger_fired(self, active_rules: int) -> None:
        self.trigger_fires.labels("activated" if active_rules else "no_active_rule").inc()

    # PoolObserver

    def container_created(self, seconds: float) -> None:
        self.container_create.observe(seconds)

    def container_destroyed(self, seconds: float) -> None:
        self.container_destroy.observe(seconds)

    def create_failed(self) -> None:
        self.create_failures.inc()

    # HTTP

    def request_answered(self, method: str, route: str, code: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(code)).inc()
        self.http_duration.labels(method, route).observe(seconds)


class PoolCollector(Collector):
    """The pool's containers by state, its target and its arrival-rate estimate, summed over memory sizes."""

    def __init__(self, snapshot: Callable[[], PoolSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        pool = self._snapshot()
        stocks = pool.stocks
        containers = GaugeMetricFamily(
            "whisklet_pool_containers", "Containers in the pool, by state.", labels=["state"]
        )
        containers.add_metric(["prewarmed"], sum(s.prewarmed for s in stocks))
        containers.add_metric(["leased"], sum(s.leased for s in stocks))
        containers.add_metric(["creating"], sum(s.creating for s in stocks))
        containers.add_metric(["destroying"], pool.destroying)
        yield containers
        by_kind = GaugeMetricFamily(
            "whisklet_pool_kind_containers", "Containers in the pool, by runtime kind and state.", labels=["kind", "state"]
        )
        for kind in sorted({s.kind for s in stocks}):
            of_kind = [s for s in stocks if s.kind == kind]
            by_kind.add_metric([kind, "prewarmed"], sum(s.prewarmed for s in of_kind))
            by_kind.add_metric([kind, "leased"], sum(s.leased for s in of_kind))
            by_kind.add_metric([kind, "creating"], sum(s.creating for s in of_kind))
        yield by_kind
        yield GaugeMetricFamily(
            "whisklet_pool_target_containers", "Prewarmed containers the pool aims to keep (Little's law on the arrival rate).",
            value=sum(s.target for s in stocks),
        )
        yield GaugeMetricFamily(
            "whisklet_pool_arrivals_per_second", "The pool's estimate of activations arriving per second.",
            value=sum(s.arrival_per_s for s in stocks),
        )
        yield GaugeMetricFamily(
            "whisklet_pool_waiting_activations", "Activations waiting for a container to be created.",
            value=sum(s.waiting for s in stocks),
        )
        yield GaugeMetricFamily(
            "whisklet_pool_create_estimate_seconds", "The pool's smoothed estimate of a container's creation time.",
            value=pool.create_s,
        )
        yield GaugeMetricFamily(
            "whisklet_pool_engine_up", "1 while the container engine answers, 0 while it does not.",
            value=1.0 if pool.engine_available else 0.0,
        )


class RequestMetrics:
    """Pure-ASGI middleware counting every HTTP request by method, route template and status code.

    The route template is the path of the route Starlette matched (`scope["route"]`), or `unmatched`;
    a method outside `HTTP_METHODS` counts as `other`; an exception that escapes before a response started counts as a 500.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        code = 500

        async def send_with_code(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_code)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            method = scope["method"] if scope["method"] in HTTP_METHODS else "other"
            self.metrics.request_answered(method, template, code, time.perf_counter() - began)


def metrics_route(metrics: Metrics) -> Route:
    """`GET /metrics`, without authentication, in Prometheus' text format."""

    async def scrape(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])
