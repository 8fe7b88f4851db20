"""The engine-neutral entity cache: bounded, never older than the last completed write or outside write."""

import asyncio

from gateway.store.cache import EntityCache


async def test_a_read_racing_a_write_does_not_cache_what_it_read():
    cache = EntityCache(10)
    release = asyncio.Event()

    async def slow_old_value() -> str:
        await release.wait()
        return "old"

    racing_read = asyncio.create_task(cache.read(("entity", "guest", "a"), slow_old_value, cache_none=True))
    await asyncio.sleep(0)  # the read is under way
    await cache.write([("entity", "guest", "a")], lambda: asyncio.sleep(0, "written"))
    release.set()
    assert await racing_read == "old"

    async def new_value() -> str:
        return "new"

    assert await cache.read(("entity", "guest", "a"), new_value, cache_none=True) == "new"


async def test_an_outside_write_empties_the_cache_and_keeps_reads_in_flight_from_caching():
    cache = EntityCache(10)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert await cache.read(("ns", "guest"), load, cache_none=False) == 1
    assert await cache.read(("ns", "guest"), load, cache_none=False) == 1  # cached
    cache.outside_write()
    assert await cache.read(("ns", "guest"), load, cache_none=False) == 2


async def test_absences_are_cached_only_when_asked_and_the_size_is_bounded():
    cache = EntityCache(2)

    async def nothing() -> None:
        return None

    await cache.read(("uuid", "x"), nothing, cache_none=False)
    assert len(cache) == 0
    for name in "abc":
        await cache.read(("entity", "guest", name), nothing, cache_none=True)
    assert len(cache) == 2
