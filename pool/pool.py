"""The container pool: prewarmed sandboxes, leased one per activation and destroyed afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pool import policy
from pool.activation import Job, RunResult
from pool.config import PoolConfig
from pool.runner.client import RunnerConnection, RunnerGone
from pool.runner.invocation import activate
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.driver import Egress, EngineUnavailable, Sandbox, SandboxDriver, SandboxError, SandboxLost

log = logging.getLogger("whisklet.pool")

_TICK_S = 0.25
_MAX_PARALLEL_DESTROYS = 2
_LEASE_ATTEMPTS = 3  # sandboxes found dead before an activation gives up
_RETIRE_AFTER_S = 0.01
"""How long after its activation a used sandbox's destroy starts: its engine calls then do not run on
the event loop (nor the engine's work on the CPUs) while a warm activation is in its round trips,
record commit and response (measured: that activation's commit ~1.3 -> ~0.55 ms, its /init + /run
~3.2 -> ~2.3 ms). A used sandbox's runner has replied and its logs are read. A warm lease's refill
has its own delay, `_REFILL_AFTER_S`, and none when the lease emptied its stock."""
_REFILL_AFTER_S = 0.015
"""How long after a warm lease that leaves its stock other prewarmed sandboxes the replacement's creation
starts: a warm blocking activation has then (p90, quiet machine) sent its result, so the new sandbox's
start-up (its Node process ~30-50 ms of CPU, the driver's own steps on the event loop) does not share
the 2 cores and the event loop with that activation's round trips, commit and response. A lease that
takes its stock's last prewarmed sandbox starts the replacement at once: the next arrival would wait."""


class PoolError(Exception):
    """No container could be had for an activation; the message says why and what to do."""


class PoolUnavailable(PoolError):
    """The container engine is unreachable, or the pool is shutting down."""


class PoolOverloaded(PoolError):
    """Too many activations are waiting for a container, or one waited too long."""


@dataclass(slots=True)
class _Stock:
    """The containers of one kind, memory size and egress mode: idle (prewarmed), leased and being created."""

    memory_mb: int
    minimum: int
    kind: str
    egress: Egress = "none"
    idle: deque[Sandbox] = field(default_factory=deque)
    leased: int = 0
    creating: int = 0
    waiters: deque[asyncio.Future[Sandbox]] = field(default_factory=deque)
    arrivals: policy.ArrivalRate = field(default_factory=policy.ArrivalRate)  # over `rate_window_s`
    burst: policy.ArrivalRate = field(default_factory=policy.ArrivalRate)  # over `burst_window_s`
    surplus_since: float | None = None
    target: int = 0


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    memory_mb: int
    prewarmed: int
    leased: int
    creating: int
    waiting: int
    target: int
    arrival_per_s: float
    kind: str = DEFAULT_KIND
    egress: Egress = "none"


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    stocks: tuple[StockSnapshot, ...]
    destroying: int
    cold_starts: int
    create_s: float
    engine_available: bool


class PoolObserver:
    """Hooks the gateway uses for metrics; the defaults do nothing."""

    def container_created(self, seconds: float) -> None: ...

    def container_destroyed(self, seconds: float) -> None: ...

    def create_failed(self) -> None: ...


class Pool:
    """Keeps prewarmed sandboxes per memory size and runs each job in one of its own.

    1. A sandbox leaves the idle set in the same synchronous step that chooses it; it serves one
       job and is then destroyed, in the background, `_RETIRE_AFTER_S` after the job ended. Its job
       runs over a connection the pool opened as soon as the sandbox was created, before any tenant
       code ran in it (a new one if that one is no longer `quiet`, see `activate`).
    2. Creation and destruction happen in background tasks, off the activation's path, with bounded
       parallelism (creation: `policy.creation_slots`, `max_parallel_creates` raised up to twice while
       the arrival rate needs more replacements in flight). A warm lease's replacement starts
       `_REFILL_AFTER_S` later while its stock has other prewarmed sandboxes, at once when it took the last.
       An activation waits for a creation (a cold start) only when its stock is empty; one that would
       expect to wait longer than `queue_timeout_s` (`policy.expected_wait_s`) is refused at once with
       PoolOverloaded instead of queued.
    3. Stocks are per (kind, memory size, egress mode): a sandbox's network is made when it is created.
       The prewarmed target per stock follows that stock's arrival rate
       (`policy.prewarm_target`), never below the minimum (the default kind, size and egress only);
       idle, leased and creating sandboxes of all kinds together stay within the memory budget.
    4. Every background task is kept and awaited by `stop`; after `stop`, `run` raises PoolUnavailable.
    5. A prewarmed sandbox found dead when leased (killed from outside, engine restarted) is destroyed,
       the other idle ones are checked, and the activation takes another. A sandbox that could not be
       destroyed because the engine was unreachable is destroyed again once the engine is back.
    """

    def __init__(
        self,
        driver: SandboxDriver,
        config: PoolConfig,
        *,
        default_memory_mb: int,
        default_kind: str = DEFAULT_KIND,
        default_egress: Egress = "none",
        observer: PoolObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._driver = driver
        self._config = config
        self._default_memory_mb = default_memory_mb
        self._observer = observer or PoolObserver()
        self._clock = clock
        self._stocks: dict[tuple[str, int, Egress], _Stock] = {}  # by (kind, memory MB, egress)
        self._default_kind = default_kind
        self._default_egress: Egress = default_egress
        self._stock(default_kind, default_memory_mb, default_egress)
        self._create_s: float | None = None
        self._creation_slots = config.max_parallel_creates  # `policy.creation_slots`, re-decided every rebalance
        self._tasks: set[asyncio.Task[Any]] = set()
        self._leased: set[Sandbox] = set()
        self._connections: dict[Sandbox, RunnerConnection] = {}  # opened at creation, used by its job
        self._retiring: dict[Sandbox, asyncio.TimerHandle] = {}  # used, destroyed `_RETIRE_AFTER_S` later
        self._destroy_slots = asyncio.Semaphore(_MAX_PARALLEL_DESTROYS)
        self._destroying = 0
        self._undestroyed: list[Sandbox] = []  # destroys the unreachable engine refused
        self._idle_check = asyncio.Lock()
        self._wake = asyncio.Event()
        self._refill_timer: asyncio.TimerHandle | None = None  # a warm lease's deferred refill (`_refill`)
        self._scaler: asyncio.Task[None] | None = None
        self._closing = False
        self._engine_down_reason: str | None = None
        self._retry_at = 0.0
        self._failure_streak = 0
        self._cold_starts = 0
        self._runs_done = asyncio.Event()
        self._runs = 0

    # lifecycle

    async def start(self) -> None:
        """Remove orphans of an earlier run, then start filling the pool in the background."""
        removed = await self._driver.remove_orphans()
        if removed:
            log.info("removed %d orphaned containers from an earlier run", removed)
        self._scaler = asyncio.create_task(self._scale_forever(), name="pool-scaler")

    async def stop(self, grace_s: float) -> None:
        """Stop leasing, let running activations finish for up to `grace_s`, then destroy everything."""
        self._closing = True
        for stock in self._stocks.values():
            self._fail_waiters(stock, PoolUnavailable("Whisklet is shutting down; retry once it is back."))
        if self._runs:
            self._runs_done.clear()
            try:
                async with asyncio.timeout(grace_s):
                    await self._runs_done.wait()
            except TimeoutError:
                log.warning("%d activations still running after %.0fs; stopping their containers", self._runs, grace_s)
        if self._refill_timer is not None:
            self._refill_timer.cancel()
            self._refill_timer = None
        if self._scaler is not None:
            self._scaler.cancel()
            await asyncio.gather(self._scaler, return_exceptions=True)
        for sandbox in list(self._leased):
            self._spawn(self._destroy(sandbox))
        for sandbox in list(self._retiring):
            self._retire(sandbox)
        for stock in self._stocks.values():
            while stock.idle:
                self._spawn(self._destroy(stock.idle.popleft()))
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # activations

    async def run(self, job: Job) -> RunResult:
        """Run `job` in a fresh container. Raises PoolError only when no container could be had."""
        submitted = self._clock()
        self._runs += 1
        try:
            for _ in range(_LEASE_ATTEMPTS):
                sandbox, cold = await self._lease(job.kind, job.memory_mb, job.egress)
                wait_ms = round((self._clock() - submitted) * 1000)
                try:
                    result = await activate(
                        sandbox, job, wait_ms=wait_ms, cold_start=cold, exit_reason=self._driver.exit_reason,
                        connection=self._connections.pop(sandbox, None),
                    )
                    return await self._with_resource_use(sandbox, result)
                except SandboxLost as lost:
                    log.warning("activation %s: %s; taking another container", job.activation_id, lost)
                    await self._check_idle()
                finally:
                    self._release(sandbox)
            raise PoolUnavailable(
                f"{_LEASE_ATTEMPTS} containers in a row were dead before they could be used; "
                "check the container engine (was it restarted?)."
            )
        finally:
            self._runs -= 1
            if self._runs == 0:
                self._runs_done.set()

    async def _with_resource_use(self, sandbox: Sandbox, result: RunResult) -> RunResult:
        """`result` with what its sandbox used, read as its run ends and before it is retired."""
        try:
            use = await self._driver.resource_use(sandbox)
        except (SandboxError, OSError) as error:
            log.warning("reading the resource use of %s failed: %s", sandbox.name, error)
            return result
        return result if use is None else dataclasses.replace(result, resource_use=use)

    async def _lease(self, kind: str, memory_mb: int, egress: Egress) -> tuple[Sandbox, bool]:
        if self._closing:
            raise PoolUnavailable("Whisklet is shutting down; retry once it is back.")
        stock = self._stock(kind, memory_mb, egress)
        now = self._clock()
        stock.arrivals = stock.arrivals.observe(now, self._config.rate_window_s)
        stock.burst = stock.burst.observe(now, self._config.burst_window_s)
        if stock.idle:
            sandbox = stock.idle.popleft()
            self._mark_leased(stock, sandbox)
            self._refill(at_once=not stock.idle)
            return sandbox, False
        self._wake.set()
        if self._engine_down_reason is not None:
            raise PoolUnavailable(self._engine_down_reason)
        if len(stock.waiters) >= self._config.max_queue:
            raise PoolOverloaded(
                f"{len(stock.waiters)} activations are already waiting for a container; retry later."
            )
        waiting = sum(len(s.waiters) for s in self._stocks.values())
        wait_s = policy.expected_wait_s(waiting + 1, self._create_s, self._creation_slots)
        if wait_s > self._config.queue_timeout_s:
            raise PoolOverloaded(
                f"{waiting} activations are already waiting for a container, about {wait_s:.0f} s of container "
                f"creation, more than the {self._config.queue_timeout_s:g} s an activation may wait; retry later."
            )
        self._cold_starts += 1
        waiter: asyncio.Future[Sandbox] = asyncio.get_running_loop().create_future()
        stock.waiters.append(waiter)
        try:
            async with asyncio.timeout(self._config.queue_timeout_s):
                return await waiter, True
        except TimeoutError:
            raise PoolOverloaded(
                f"no container became ready within {self._config.queue_timeout_s:g} s; "
                "the pool is creating containers as fast as the engine allows, retry later."
            ) from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())
            raise
        finally:
            if waiter in stock.waiters:
                stock.waiters.remove(waiter)

    def _refill(self, *, at_once: bool) -> None:
        """Have the scaler replace a leased sandbox: now, or `_REFILL_AFTER_S` from now (one timer at a
        time; anything else that wakes the scaler meanwhile starts the replacement earlier)."""
        if at_once:
            self._wake.set()
        elif self._refill_timer is None:
            self._refill_timer = asyncio.get_running_loop().call_later(_REFILL_AFTER_S, self._refill_due)

    def _refill_due(self) -> None:
        self._refill_timer = None
        self._wake.set()

    def _mark_leased(self, stock: _Stock, sandbox: Sandbox) -> None:
        stock.leased += 1
        self._leased.add(sandbox)

    def _release(self, sandbox: Sandbox) -> None:
        stock = self._stocks[sandbox.kind, sandbox.memory_mb, sandbox.egress]
        stock.leased -= 1
        self._leased.discard(sandbox)
        self._retiring[sandbox] = asyncio.get_running_loop().call_later(_RETIRE_AFTER_S, self._retire, sandbox)
        if self._closing:  # `stop` is waiting for its tasks: none may start later
            self._retire(sandbox)

    def _retire(self, sandbox: Sandbox) -> None:
        """Start destroying a used sandbox (harmless to repeat)."""
        handle = self._retiring.pop(sandbox, None)
        if handle is not None:
            handle.cancel()
            self._spawn(self._destroy(sandbox))
            self._wake.set()

    # sizing

    async def _scale_forever(self) -> None:
        while True:
            try:
                async with asyncio.timeout(_TICK_S):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._rebalance()

    def _rebalance(self) -> None:
        now = self._clock()
        create_s = self._create_s if self._create_s is not None else 1.0
        rates = {
            key: policy.planning_rate(
                stock.arrivals.read(now, self._config.rate_window_s), stock.burst.read(now, self._config.burst_window_s)
            )
            for key, stock in self._stocks.items()
        }
        if self._create_s is not None:  # until a creation was timed, the configured count
            self._creation_slots = policy.creation_slots(sum(rates.values()), create_s, self._config.max_parallel_creates)
        free_slots = self._creation_slots - sum(s.creating for s in self._stocks.values())
        budget_left = self._config.memory_budget_mb - self._memory_in_use()
        for key, stock in self._stocks.items():
            target = policy.prewarm_target(
                rates[key], create_s, self._config.headroom, stock.minimum, self._config.cold_start_ratio,
                parallel_creates=self._creation_slots,
            )
            stock.target = min(target, self._config.memory_budget_mb // stock.memory_mb)
        if now >= self._retry_at:
            for for_waiters in (True, False):  # activations waiting in any stock before prewarming any
                for stock in self._stocks.values():
                    count = policy.creations_to_start(
                        target=0 if for_waiters else stock.target,
                        waiting=len(stock.waiters),
                        idle=len(stock.idle),
                        creating=stock.creating,
                        free_slots=free_slots,
                        budget_left_mb=budget_left,
                        memory_mb=stock.memory_mb,
                    )
                    for _ in range(count):
                        stock.creating += 1
                        self._spawn(self._create(stock))
                    free_slots -= count
                    budget_left -= count * stock.memory_mb
        for stock in self._stocks.values():
            if len(stock.idle) > stock.target:
                stock.surplus_since = stock.surplus_since if stock.surplus_since is not None else now
            else:
                stock.surplus_since = None
            surplus = policy.surplus_to_destroy(
                target=stock.target,
                idle=len(stock.idle),
                surplus_since=stock.surplus_since,
                now=now,
                grace_s=self._config.idle_shrink_after_s,
            )
            for _ in range(surplus):
                self._spawn(self._destroy(stock.idle.pop()))
            if surplus:
                stock.surplus_since = None

    def _memory_in_use(self) -> int:
        return sum((len(s.idle) + s.leased + s.creating) * s.memory_mb for s in self._stocks.values())

    def _stock(self, kind: str, memory_mb: int, egress: Egress) -> _Stock:
        """The stock of (kind, memory size, egress), made empty on first use: only the default kind at the
        default size and egress keeps `min_prewarm`; the others are prewarmed only as their own traffic asks."""
        stock = self._stocks.get((kind, memory_mb, egress))
        if stock is None:
            default = (kind, memory_mb, egress) == (self._default_kind, self._default_memory_mb, self._default_egress)
            minimum = self._config.min_prewarm if default else 0
            stock = self._stocks[kind, memory_mb, egress] = _Stock(memory_mb, minimum, kind, egress)
        return stock

    # container lifecycle

    async def _create(self, stock: _Stock) -> None:
        started = self._clock()
        try:
            async with asyncio.timeout(self._config.create_timeout_s):
                sandbox = await self._driver.create(stock.memory_mb, stock.kind, stock.egress)
                await self._connect(sandbox)
        except Exception as error:
            if not isinstance(error, (SandboxError, TimeoutError)):  # a driver's bug: failed like any other, slot kept
                log.exception("creating a sandbox failed unexpectedly")
                error = SandboxError(f"creating a sandbox failed unexpectedly: {error!r}")
            stock.creating -= 1
            self._creation_failed(error)
            return
        stock.creating -= 1
        elapsed = self._clock() - started
        self._create_s = policy.smoothed(self._create_s, elapsed)
        self._failure_streak = 0
        if self._engine_down_reason is not None:
            log.info("the container engine is reachable again")
            self._engine_down_reason = None
        for leftover in self._undestroyed:
            self._spawn(self._destroy(leftover))
        self._undestroyed.clear()
        self._observer.container_created(elapsed)
        if self._closing:
            self._spawn(self._destroy(sandbox))
            return
        while stock.waiters:
            waiter = stock.waiters.popleft()
            if not waiter.done():
                self._mark_leased(stock, sandbox)
                waiter.set_result(sandbox)
                self._wake.set()  # the creation slot this freed is refilled now, not at the next tick
                return
        stock.idle.append(sandbox)
        self._wake.set()

    def _creation_failed(self, error: BaseException) -> None:
        self._failure_streak += 1
        self._observer.create_failed()
        backoff_s = min(10.0, 0.5 * 2 ** min(self._failure_streak - 1, 5))
        self._retry_at = self._clock() + backoff_s
        reason = str(error) or "the container did not become ready in time"
        if isinstance(error, EngineUnavailable):
            if self._engine_down_reason is None:
                log.error("the container engine is unavailable: %s", reason)
            self._engine_down_reason = (
                f"The container engine is unavailable ({reason}); activations cannot run until it is back. "
                "Check that dockerd is running."
            )
            for stock in self._stocks.values():
                self._fail_waiters(stock, PoolUnavailable(self._engine_down_reason))
        else:
            log.warning("creating a container failed (retrying in %.1fs): %s", backoff_s, reason)

    def _fail_waiters(self, stock: _Stock, error: PoolError) -> None:
        while stock.waiters:
            waiter = stock.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    async def _connect(self, sandbox: Sandbox) -> None:
        """Open the connection the sandbox's job will use, now, before any tenant code runs in it;
        a sandbox that cannot be connected to is destroyed and its creation counts as failed."""
        try:
            self._connections[sandbox] = await RunnerConnection.open(sandbox.socket_path)
        except BaseException as error:
            self._spawn(self._destroy(sandbox))
            if isinstance(error, RunnerGone):
                raise SandboxError(f"sandbox {sandbox.name} answered its warm-up but not a connection: {error}") from error
            raise

    async def _destroy(self, sandbox: Sandbox) -> None:
        connection = self._connections.pop(sandbox, None)
        if connection is not None:
            await connection.close()
        self._destroying += 1
        try:
            async with self._destroy_slots:
                started = self._clock()
                await self._driver.destroy(sandbox)
                self._observer.container_destroyed(self._clock() - started)
        except EngineUnavailable as error:
            log.warning("destroying container %s failed, retried when the engine is back: %s", sandbox.name, error)
            self._undestroyed.append(sandbox)
        except SandboxError as error:
            log.warning("destroying container %s failed: %s", sandbox.name, error)
        finally:
            self._destroying -= 1

    async def _check_idle(self) -> None:
        """Destroy the prewarmed sandboxes whose runner no longer answers (one check at a time)."""
        async with self._idle_check:
            for stock in self._stocks.values():
                for sandbox in list(stock.idle):
                    if await _answers(sandbox) or sandbox not in stock.idle:
                        continue
                    stock.idle.remove(sandbox)
                    self._spawn(self._destroy(sandbox))
            self._wake.set()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # introspection

    def unavailable_reason(self, memory_mb: int, kind: str = DEFAULT_KIND, egress: Egress = "none") -> str | None:
        """Why an activation of `kind`, `memory_mb` and `egress` cannot have a container now (the engine
        is unreachable and no prewarmed one is left), else None."""
        if self._engine_down_reason is None:
            return None
        stock = self._stocks.get((kind, memory_mb, egress))
        return None if stock is not None and stock.idle else self._engine_down_reason

    def snapshot(self) -> PoolSnapshot:
        now = self._clock()
        stocks = tuple(
            StockSnapshot(
                memory_mb=s.memory_mb,
                prewarmed=len(s.idle),
                leased=s.leased,
                creating=s.creating,
                waiting=len(s.waiters),
                target=s.target,
                arrival_per_s=s.arrivals.read(now, self._config.rate_window_s),
                kind=s.kind,
                egress=s.egress,
            )
            for s in self._stocks.values()
        )
        return PoolSnapshot(
            stocks=stocks,
            destroying=self._destroying + len(self._retiring),
            cold_starts=self._cold_starts,
            create_s=self._create_s or 0.0,
            engine_available=self._engine_down_reason is None,
        )


async def _answers(sandbox: Sandbox) -> bool:
    """Whether the sandbox's runner still accepts connections on its socket."""
    try:
        connection = await RunnerConnection.open(sandbox.socket_path)
    except RunnerGone:
        return False
    await connection.close()
    return True
