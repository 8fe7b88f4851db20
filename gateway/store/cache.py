"""The in-process cache of subjects, entities, APIs and log-forwarding settings, the same for every engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from gateway.store.base import StoreError

T = TypeVar("T")

CacheKey = tuple[str, ...]
"""What a read was of: `("entity", path, name)`, `("ns", namespace)`, ..."""

_MISSING = object()  # a cache miss, as opposed to a cached None


class EntityCache:
    """A bounded LRU in front of an engine's reads, kept no older than the last completed write.

    1. At most `size` keys; the least recently used is forgotten first. A key is a tuple naming what
       was read (`("entity", path, name)`); a value is what the read returned, `None` included when
       the read asked for absences to be cached.
    2. `write` drops the keys it touched and counts the write, whether it succeeded or failed; `read`
       caches its result only if no write completed while it ran, so a read racing a write never
       caches what the write replaced.
    3. `outside_write()` is the hook through which an engine reports a write committed elsewhere
       (another process on the SQLite file, another node on PostgreSQL): the cache empties, and reads
       in flight do not cache their results.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[CacheKey, Any] = OrderedDict()
        self._writes = 0

    def __len__(self) -> int:
        return len(self._items)

    async def read(
        self, key: CacheKey, load: Callable[[], Awaitable[T]], *, cache_none: bool
    ) -> T:
        value = self._items.get(key, _MISSING)
        if value is not _MISSING:
            self._items.move_to_end(key)
            return cast(T, value)
        writes = self._writes
        loaded = await load()
        if writes == self._writes and (loaded is not None or cache_none) and self._size > 0:
            self._items[key] = loaded
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return loaded

    async def write(self, keys: Sequence[CacheKey], store: Callable[[], Awaitable[T]]) -> T:
        try:
            return await store()
        finally:
            self._writes += 1
            for key in keys:
                self._items.pop(key, None)

    def forget(self, key: CacheKey) -> None:
        """Drop one key learnt only from a write's result (a deleted subject's uuid)."""
        self._items.pop(key, None)

    def outside_write(self) -> None:
        self._writes += 1
        self._items.clear()


async def poll_outside_writes(cache: EntityCache, version: Callable[[], Awaitable[int]], interval_s: float) -> None:
    """Report an outside write to `cache` whenever `version()` changes; checks every `interval_s`.

    For engines whose only signal is a counter (SQLite's `data_version`). Runs until cancelled; a
    failing check is skipped (the flusher and the requests report a failing database).
    """
    seen: int | None = None
    while True:
        with contextlib.suppress(StoreError):
            current = await version()
            if seen is not None and current != seen:
                cache.outside_write()
            seen = current
        await asyncio.sleep(interval_s)
