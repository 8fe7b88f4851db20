"""The runner's stdout and stderr as the gateway receives them: two pipes (or FIFOs) the gateway holds, for either driver."""

from __future__ import annotations

import asyncio
import os

READ_CHUNK_BYTES = 1 << 16


class PipeOutput:
    """`RunnerOutput` (pool/sandbox/driver.py) over the read ends of the runner's stdout and stderr pipes.

    1. Each `read` returns at most `READ_CHUNK_BYTES`; nothing is buffered here, so a runner that writes
       faster than the gateway reads blocks on its own full pipe (64 KiB), never the gateway's memory.
    2. The streams take turns, so a flood on one never starves the other.
    3. One reader at a time (the pool's log collector); `close` wakes a pending `read`, which returns None.
    """

    def __init__(self, stdout_fd: int, stderr_fd: int) -> None:
        self._open: dict[str, int] = {"stdout": stdout_fd, "stderr": stderr_fd}
        for fd in self._open.values():
            os.set_blocking(fd, False)
        self._waiting: asyncio.Future[None] | None = None
        self._watched: list[int] = []

    async def read(self) -> tuple[str, bytes] | None:
        while self._open:
            for stream, fd in list(self._open.items()):
                try:
                    data = os.read(fd, READ_CHUNK_BYTES)
                except BlockingIOError:
                    continue
                if not data:
                    self._end(stream)
                    continue
                self._open[stream] = self._open.pop(stream)  # the other stream goes first next time
                return stream, data
            if self._open:
                await self._readable()
        return None

    def close(self) -> None:
        self._unwatch()
        for stream in list(self._open):
            self._end(stream)
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiting = waiting = loop.create_future()

        def wake() -> None:
            if not waiting.done():
                waiting.set_result(None)

        self._watched = list(self._open.values())
        for fd in self._watched:
            loop.add_reader(fd, wake)
        try:
            await waiting
        finally:
            self._unwatch()
            self._waiting = None

    def _unwatch(self) -> None:
        """Stop watching before any descriptor is closed, so a reused number is never touched."""
        if self._watched:
            loop = asyncio.get_running_loop()
            for fd in self._watched:
                loop.remove_reader(fd)
            self._watched = []

    def _end(self, stream: str) -> None:
        os.close(self._open.pop(stream))
