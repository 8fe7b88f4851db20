"""Reads taken in turns per namespace, so that one namespace's heavy reads never hold every connection.

One namespace listing big activation records must not delay another namespace's invoke: each namespace
has at most `per_namespace` reads in flight, whatever the engine, and the rest of its reads wait their
turn in arrival order without holding a connection or a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

READS_PER_NAMESPACE = 1
"""Reads one namespace may have in flight at once; the others wait their turn in order."""


@dataclass
class _Turns:
    """A namespace's read slots and how many reads hold or wait for one."""

    slots: asyncio.Semaphore
    users: int = 0


class NamespaceTurns:
    """At most `per_namespace` reads of one namespace at a time; the bookkeeping of a namespace lasts
    only while it reads (`len()` counts the namespaces that read or wait)."""

    def __init__(self, per_namespace: int = READS_PER_NAMESPACE) -> None:
        self.per_namespace = per_namespace
        self._turns: dict[str, _Turns] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def turn(self, namespace: str) -> AsyncIterator[None]:
        turns = self._turns.get(namespace)
        if turns is None:
            turns = self._turns[namespace] = _Turns(asyncio.Semaphore(self.per_namespace))
        turns.users += 1
        try:
            async with turns.slots:
                yield
        finally:
            turns.users -= 1
            if turns.users == 0:
                del self._turns[namespace]
