"""Admission: the namespace throttles on invocations and fires per calendar minute, and activations in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from msgspec import UNSET, UnsetType

from gateway.invoke.observer import GatewayObserver, ThrottleReason
from gateway.wire import errors


def namespace_limit(override: int | UnsetType, default: int) -> int:
    """A namespace's own limit when it has one (0 too: then nothing is admitted), else the system's."""
    return default if override is UNSET else override


class Admission:
    """A namespace's permission to start one activation: one concurrency slot, released exactly once.

    1. Held in a `with` block: leaving the block releases the slot on every path (return, error,
       cancellation), unless its ownership was passed on inside it.
    2. `pass_to(task)` hands the slot to the activation's task: it is released when that task ends,
       however it ends, and no longer when the block is left.
    3. The slot is released once; whatever would release it again does nothing.
    """

    __slots__ = ("_passed", "_release", "_released", "namespace")

    def __init__(self, namespace: str, release: Callable[[str], None]) -> None:
        self.namespace = namespace
        self._release = release
        self._released = False
        self._passed = False

    @property
    def released(self) -> bool:
        return self._released

    def __enter__(self) -> Admission:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if not self._passed:
            self._end()

    def pass_to(self, task: asyncio.Future[Any]) -> None:
        """Make `task` the slot's owner: the slot is released when `task` is done."""
        if self._released:
            raise RuntimeError(f"the admission of {self.namespace} was released before its activation started")
        self._passed = True
        task.add_done_callback(lambda _: self._end())

    def _end(self) -> None:
        if not self._released:
            self._released = True
            self._release(self.namespace)


@dataclass(slots=True)
class _Window:
    minute: int = -1
    count: int = 0


@dataclass(slots=True)
class MinuteCounter:
    """Counts events per namespace in fixed calendar-minute windows, as OpenWhisk does.

    Rejected events count too, so a client hammering past the limit stays rejected for the minute.
    """

    clock_ms: Callable[[], int]
    _windows: dict[str, _Window] = field(default_factory=dict)

    def hit(self, namespace: str) -> int:
        """Count one event and return the count in the current window, this one included."""
        minute = self.clock_ms() // 60_000
        window = self._windows.get(namespace)
        if window is None:
            window = self._windows[namespace] = _Window()
        if window.minute != minute:
            window.minute, window.count = minute, 0
            if len(self._windows) > 10_000:
                self._forget_before(minute)
        window.count += 1
        return window.count

    def count(self, namespace: str) -> int:
        """The count in the current window, without counting."""
        window = self._windows.get(namespace)
        return window.count if window is not None and window.minute == self.clock_ms() // 60_000 else 0

    def _forget_before(self, minute: int) -> None:
        for namespace in [ns for ns, w in self._windows.items() if w.minute < minute]:
            del self._windows[namespace]


@dataclass(slots=True)
class NodeShare:
    """This node's share of a namespace's cluster-wide limits, as OpenWhisk's controllers share them.

    With `live_nodes` nodes serving (heartbeats within `store.node_lapse_s`, this one included), each
    admits `ceil(limit / live_nodes)`: the cluster admits at most `limit + live_nodes - 1`, with no
    database round trip per invoke. 0 stays 0 (nothing admitted). One node: the limit itself.
    """

    live_nodes: int = 1

    def set_live_nodes(self, count: int) -> None:
        self.live_nodes = max(count, 1)

    def of(self, limit: int) -> int:
        return -(-limit // self.live_nodes) if limit > 0 else limit


@dataclass(slots=True)
class Throttle:
    """Admits or rejects (429) invocations and fires of a namespace; tells `observer` of each rejection.

    Limits are the namespace's across the cluster: this node enforces its `share` of each.
    """

    invocations: MinuteCounter
    fires: MinuteCounter
    in_flight: dict[str, int] = field(default_factory=dict)
    observer: GatewayObserver = field(default_factory=GatewayObserver)
    share: NodeShare = field(default_factory=NodeShare)

    def admit_invocation(self, namespace: str, per_minute: int, concurrent: int) -> None:
        """Count one invocation; raise 429 when a limit is exceeded, else hold a concurrency slot."""
        per_minute, concurrent = self.share.of(per_minute), self.share.of(concurrent)
        count = self.invocations.hit(namespace)
        if count > per_minute:
            self.observer.throttled(ThrottleReason.INVOCATIONS_PER_MINUTE)
            raise errors.too_many_per_minute(count, per_minute)
        running = self.in_flight.get(namespace, 0)
        if running >= concurrent:
            self.observer.throttled(ThrottleReason.CONCURRENT_INVOCATIONS)
            raise errors.too_many_concurrent(running, concurrent)
        self.in_flight[namespace] = running + 1

    def release_invocation(self, namespace: str) -> None:
        running = self.in_flight.get(namespace, 0) - 1
        if running > 0:
            self.in_flight[namespace] = running
        else:
            self.in_flight.pop(namespace, None)

    def may_fire(self, namespace: str, per_minute: int) -> bool:
        """Whether `admit_fire` would admit one more fire now; nothing is counted."""
        return self.fires.count(namespace) < self.share.of(per_minute)

    def admit_fire(self, namespace: str, per_minute: int) -> None:
        per_minute = self.share.of(per_minute)
        count = self.fires.hit(namespace)
        if count > per_minute:
            self.observer.throttled(ThrottleReason.FIRES_PER_MINUTE)
            raise errors.too_many_per_minute(count, per_minute)
