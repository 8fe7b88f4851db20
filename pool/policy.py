"""The pool's sizing decisions, as pure functions of what the pool knows."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArrivalRate:
    """An exponentially decaying estimate of arrivals per second, with time constant `window_s`.

    Each arrival adds `1 / window_s`; the estimate decays by `exp(-dt / window_s)`. A steady rate
    `r` converges to `r`; after traffic stops it falls to ~37 % of its value every window.
    """

    per_s: float = 0.0
    at: float = 0.0

    def observe(self, now: float, window_s: float) -> ArrivalRate:
        return ArrivalRate(self.read(now, window_s) + 1.0 / window_s, now)

    def read(self, now: float, window_s: float) -> float:
        if now <= self.at:
            return self.per_s
        return self.per_s * math.exp(-(now - self.at) / window_s)


def smoothed(previous_s: float | None, sample_s: float, weight: float = 0.2) -> float:
    """An exponentially weighted moving average; the first sample stands alone."""
    if previous_s is None:
        return sample_s
    return previous_s + weight * (sample_s - previous_s)


def prewarm_target(arrival_per_s: float, create_s: float, headroom: float, minimum: int) -> int:
    """Prewarmed containers to keep so that arrivals rarely find the pool empty (Little's law).

    Every activation consumes a container, and a replacement takes `create_s` to be ready, so on
    average `arrival_per_s * create_s` activations arrive while one is being made; `headroom`
    absorbs bursts. Below one expected arrival per creation time a single container suffices.
    """
    expected = arrival_per_s * create_s * headroom
    if expected < 0.05:
        return minimum
    return max(minimum, math.ceil(expected))


def creations_to_start(
    *,
    target: int,
    waiting: int,
    idle: int,
    creating: int,
    free_slots: int,
    budget_left_mb: int,
    memory_mb: int,
) -> int:
    """How many creations to start now for one memory size.

    Waiting activations count on top of the target; creations in flight count as already there.
    Bounded by the free creation slots and by the memory budget left.
    """
    deficit = target + waiting - idle - creating
    affordable = budget_left_mb // memory_mb if memory_mb > 0 else 0
    return max(0, min(deficit, free_slots, affordable))


def surplus_to_destroy(*, target: int, idle: int, surplus_since: float | None, now: float, grace_s: float) -> int:
    """How many idle containers to destroy: the surplus over the target once it lasted `grace_s`."""
    surplus = idle - target
    if surplus <= 0 or surplus_since is None or now - surplus_since < grace_s:
        return 0
    return surplus
