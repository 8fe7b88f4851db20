import asyncio

import pytest
from msgspec import UNSET

from gateway.invoke.admission import Admission, MinuteCounter, Throttle, namespace_limit
from gateway.wire.errors import ApiError


class Clock:
    def __init__(self, ms: int = 0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def throttle(clock: Clock) -> Throttle:
    return Throttle(MinuteCounter(clock), MinuteCounter(clock))


def test_per_minute_limit_is_429_with_openwhisks_text():
    clock = Clock(60_000 * 10)
    t = throttle(clock)
    for _ in range(3):
        t.admit_invocation("guest", per_minute=3, concurrent=100)
        t.release_invocation("guest")
    with pytest.raises(ApiError) as raised:
        t.admit_invocation("guest", per_minute=3, concurrent=100)
    assert raised.value.status == 429
    assert raised.value.message == "Too many requests in the last minute (count: 4, allowed: 3)."


def test_the_window_is_the_calendar_minute():
    clock = Clock(60_000 * 10 + 59_000)
    t = throttle(clock)
    t.admit_invocation("guest", per_minute=1, concurrent=100)
    clock.ms = 60_000 * 11  # one second later, but a new minute
    t.admit_invocation("guest", per_minute=1, concurrent=100)


def test_rejected_calls_still_count_in_the_window():
    t = throttle(Clock())
    t.admit_invocation("guest", per_minute=1, concurrent=100)
    for count in (2, 3):
        with pytest.raises(ApiError, match=f"count: {count}"):
            t.admit_invocation("guest", per_minute=1, concurrent=100)


def test_concurrent_limit_counts_activations_in_flight():
    t = throttle(Clock())
    t.admit_invocation("guest", per_minute=100, concurrent=2)
    t.admit_invocation("guest", per_minute=100, concurrent=2)
    with pytest.raises(ApiError) as raised:
        t.admit_invocation("guest", per_minute=100, concurrent=2)
    # OpenWhisk counts the activations already in flight, not the refused one
    assert raised.value.message == "Too many concurrent requests in flight (count: 2, allowed: 2)."
    t.release_invocation("guest")
    t.admit_invocation("guest", per_minute=100, concurrent=2)


def test_namespaces_are_throttled_apart():
    t = throttle(Clock())
    t.admit_invocation("a", per_minute=1, concurrent=1)
    t.admit_invocation("b", per_minute=1, concurrent=1)


def test_fires_are_counted_apart_from_invocations():
    t = throttle(Clock())
    t.admit_invocation("guest", per_minute=1, concurrent=10)
    t.admit_fire("guest", per_minute=1)
    with pytest.raises(ApiError, match="count: 2, allowed: 1"):
        t.admit_fire("guest", per_minute=1)


def test_a_namespace_override_replaces_the_system_default():
    assert namespace_limit(UNSET, 60) == 60
    assert namespace_limit(600, 60) == 600


def test_an_override_of_zero_admits_nothing():
    t = throttle(Clock())
    with pytest.raises(ApiError, match=r"count: 1, allowed: 0\)"):
        t.admit_invocation("blocked", per_minute=namespace_limit(0, 60), concurrent=30)


class Releases:
    """Counts the releases of each namespace's slots."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def __call__(self, namespace: str) -> None:
        self.count[namespace] = self.count.get(namespace, 0) + 1


def test_a_slot_is_released_once_when_its_block_ends_normally_or_with_an_error():
    releases = Releases()
    with Admission("guest", releases):
        pass
    with pytest.raises(ApiError), Admission("other", releases):
        raise ApiError(404, "The requested resource does not exist.")
    assert releases.count == {"guest": 1, "other": 1}


async def test_a_slot_is_released_once_when_its_holder_is_cancelled():
    releases, waiting = Releases(), asyncio.Event()

    async def holder() -> None:
        with Admission("guest", releases):
            waiting.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(holder())
    await waiting.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert releases.count == {"guest": 1}


@pytest.mark.parametrize("ending", ["returns", "raises", "is cancelled"])
async def test_a_slot_passed_to_an_activation_task_is_released_once_when_the_task_ends(ending):
    releases, finish = Releases(), asyncio.Event()

    async def activation() -> None:
        await finish.wait()
        if ending == "raises":
            raise RuntimeError("the activation failed")

    with Admission("guest", releases) as admission:
        task = asyncio.create_task(activation())
        admission.pass_to(task)
    assert releases.count == {}  # leaving the block no longer releases it: the task owns it
    if ending == "is cancelled":
        task.cancel()
    finish.set()
    await asyncio.gather(task, return_exceptions=True)  # its done callbacks ran before gather's
    assert releases.count == {"guest": 1}
    assert admission.released


async def test_a_released_slot_cannot_be_passed_on_and_is_not_released_again():
    releases = Releases()
    admission = Admission("guest", releases)
    with admission:
        pass
    with admission:
        pass
    with pytest.raises(RuntimeError):
        admission.pass_to(asyncio.get_running_loop().create_future())
    assert releases.count == {"guest": 1}
