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


def planning_rate(steady_per_s: float, burst_per_s: float) -> float:
    """The arrival rate the prewarm target plans for: the steady estimate (`pool.rate_window_s`), or the
    short-window one (`pool.burst_window_s`) while a burst or a rate still rising runs past it."""
    return max(steady_per_s, burst_per_s)


def prewarm_target(
    arrival_per_s: float,
    create_s: float,
    headroom: float,
    minimum: int,
    cold_start_ratio: float = 0.01,
    parallel_creates: int | None = None,
) -> int:
    """Prewarmed containers to keep so that at most `cold_start_ratio` of arrivals find the pool empty.

    Every activation consumes a container and its replacement is ready `create_s` later, so an
    arrival finds the pool empty when at least `target` others arrived within the last creation time
    (the pool keeps prewarmed + being created = target). Those arrivals are taken as Poisson with mean
    `arrival_per_s * create_s * headroom` (Little's law; `headroom` covers a rate still rising or a
    creation time still growing); the target is the smallest count they reach with probability at
    most `cold_start_ratio`. Below one expected arrival in twenty creation times the minimum suffices.

    With `parallel_creates` given, replacements also wait for a creation slot: the target is at least
    what that queue needs at the rate as estimated (`slot_queue_reached`, no headroom: it is a tail
    already), which grows without bound as the arrivals approach what the slots can create.
    """
    expected = arrival_per_s * create_s * headroom
    if expected < 0.05:
        return minimum
    target = poisson_reached(expected, cold_start_ratio)
    if parallel_creates is not None:
        target = max(target, slot_queue_reached(arrival_per_s * create_s, parallel_creates, cold_start_ratio))
    return max(minimum, target)


SLOT_UTILISATION = 0.75
"""The share of the creation slots that replacing consumed sandboxes keeps busy on average, at most
(`creation_slots`): above it, M/M/c's queue for a slot grows steeply (Erlang C)."""


def creation_slots(arrival_per_s: float, create_s: float, configured: int, most: int | None = None) -> int:
    """How many creations may run at once: `configured` (the driver's own, measured for creation alone),
    raised while the arrivals need more replacements in flight than that at `SLOT_UTILISATION` (Little's
    law: in flight = arrival rate x creation time), up to `most` (default twice `configured`).

    With the count fixed, creation cannot exceed `configured / create_s`, whatever the CPU has left: on
    2 cores under the staircase's load a sandbox took 145-163 ms, so 4 slots capped creation at
    24.5-27.6/s, exactly where the pool stopped following the offered rate (0.8 of the machine's limit;
    39 % cold starts with egress `api`, 88 % with `internet`). The bound keeps an overload from growing
    the parallelism (and each creation's time with it) without end."""
    most = max(configured, most if most is not None else 2 * configured)
    needed = math.ceil(arrival_per_s * create_s / SLOT_UTILISATION)
    return max(configured, min(most, needed))


SATURATED = 1_000_000
"""`slot_queue_reached` when the slots cannot keep up at all: more than any memory budget allows."""


def slot_queue_reached(offered: float, slots: int, probability: float) -> int:
    """The smallest n such that at least n replacements are outstanding (being created or waiting for
    one of `slots` creation slots) with probability <= `probability`, for `offered` = arrivals per
    creation time (M/M/c: beyond `slots` outstanding the count's tail falls geometrically by
    `offered / slots`, from Erlang C's probability that all slots are busy). `SATURATED` when
    `offered >= slots`; 0 when the slots are rarely all busy (the Poisson rule covers that)."""
    utilisation = offered / slots
    if utilisation >= 1:
        return SATURATED
    busy = erlang_c(offered, slots)
    if busy <= probability:
        return 0
    return slots + math.ceil(math.log(probability / busy) / math.log(utilisation))


def erlang_c(offered: float, slots: int) -> float:
    """The probability that an arrival finds all `slots` busy (M/M/c), for `offered` < `slots`."""
    term = total = 1.0  # offered**k / k!, summed for k < slots
    for k in range(1, slots):
        term *= offered / k
        total += term
    last = term * offered / slots / (1 - offered / slots)
    return last / (total + last)


def poisson_reached(mean: float, probability: float) -> int:
    """The smallest n such that a Poisson count of mean `mean` is >= n with probability <= `probability`."""
    if mean > 500:  # exp(-mean) underflows; the normal approximation is exact enough there
        return math.ceil(mean + 4 * math.sqrt(mean)) + 1
    term = cumulative = math.exp(-mean)
    count = 0
    while 1 - cumulative > probability:
        count += 1
        term *= mean / count
        cumulative += term
    return count + 1


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


def expected_wait_s(position: int, create_s: float | None, parallel_creates: int) -> float:
    """How long the activation at `position` (1 = next) in the queue for containers should expect to
    wait: the containers for it and those ahead are created `parallel_creates` at a time, each in
    `create_s` (0 while no creation time is known yet)."""
    if create_s is None:
        return 0.0
    return math.ceil(position / parallel_creates) * create_s


def surplus_to_destroy(*, target: int, idle: int, surplus_since: float | None, now: float, grace_s: float) -> int:
    """How many idle containers to destroy: the surplus over the target once it lasted `grace_s`."""
    surplus = idle - target
    if surplus <= 0 or surplus_since is None or now - surplus_since < grace_s:
        return 0
    return surplus
