"""The gateway's one clock: wall time in ms for records, monotonic time for durations, and timed waits.

Created once in the lifespan (`service.py`) and passed down; tests pass a `FakeClock` and move time
themselves instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the gateway asks of time.

    1. `wall_ms` is the Unix time in milliseconds: what records, entities and schedules carry.
    2. `monotonic_s` never goes back: differences of it are durations.
    3. `wait` waits for `event` up to `timeout_s` of this clock's time and says whether it was set.
    """

    def wall_ms(self) -> int: ...

    def monotonic_s(self) -> float: ...

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool: ...


class SystemClock:
    """The machine's clocks."""

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        return True


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock for tests that moves only when told to (`advance`).

    1. A `wait` ends when its event is set or when `advance` moves time to or past its deadline,
       never because real time passed.
    2. `waits` counts the waits begun; `waited(n)` returns once `n` have begun, which is how a test
       knows a background task has done its round and gone idle.
    """

    def __init__(self, wall_ms: int = 1_800_000_000_000, monotonic_s: float = 1_000.0) -> None:
        self._wall_ms = wall_ms
        self._monotonic_s = monotonic_s
        self._timers: list[tuple[float, asyncio.Future[None]]] = []
        self._began = asyncio.Event()
        self.waits = 0

    def wall_ms(self) -> int:
        return self._wall_ms

    def monotonic_s(self) -> float:
        return self._monotonic_s

    def advance(self, seconds: float) -> None:
        """Move both clocks on by `seconds` and end the waits whose deadline has come."""
        self._wall_ms += round(seconds * 1000)
        self._monotonic_s += seconds
        for deadline_s, timer in self._timers:
            if deadline_s <= self._monotonic_s and not timer.done():
                timer.set_result(None)

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool:
        if event.is_set():
            return True
        timer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._monotonic_s + timeout_s, timer)
        self._timers.append(entry)
        waiter = asyncio.ensure_future(event.wait())
        self.waits += 1
        self._began.set()
        try:
            await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._timers.remove(entry)
            timer.cancel()
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        return event.is_set()

    async def waited(self, count: int, within_s: float = 10.0) -> None:
        """Return once `count` waits have begun in all; `TimeoutError` after `within_s` real seconds."""
        async with asyncio.timeout(within_s):
            while self.waits < count:
                self._began.clear()
                await self._began.wait()
