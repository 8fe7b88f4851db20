"""Activation write-behind for any engine: journal rows and records group-committed, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeAlias

from gateway.store.base import ActivationRow, StoreError

log = logging.getLogger("whisklet.store")

MAX_RETRY_DELAY_S = 5.0

JournalRow: TypeAlias = ActivationRow | Callable[[], ActivationRow]
"""A journal row, or what builds it: a blocking activation's is built only if a flush comes before its record."""

WriteBatch = Callable[[list[ActivationRow], list[ActivationRow], Callable[[], object]], Awaitable[None]]
"""An engine's write of `(records, journal rows, committed)` in one transaction: each record replaces its
activation's journal row; `committed()` is called once the transaction has committed, from whichever
thread ran it (it only schedules the hand-back on the event loop); raises `StoreError` when the
transaction fails (nothing is written, `committed` is not called)."""


class Listed(NamedTuple):
    """An activation in a list, before its doc is read: `row` is set for a pending one."""

    start: int
    activation_id: str
    size: int
    row: ActivationRow | None = None


def within(page: list[Listed], max_bytes: int | None) -> list[Listed]:
    """The first entries of `page` whose sizes add up to at most `max_bytes`; at least one."""
    if max_bytes is None:
        return page
    total = 0
    for count, entry in enumerate(page):
        total += entry.size
        if total > max_bytes and count > 0:
            return page[:count]
    return page


def merged_page(
    stored: list[Listed], pending: list[ActivationRow], *, skip: int, limit: int, max_bytes: int | None
) -> list[Listed]:
    """The page of a list that merges stored rows with pending ones (newest `start` first, ties by id).

    `stored` holds the stored rows that match and are not shadowed by a pending one, from the
    `skip`-th on when none is pending, else from the first (the merge needs every row before the page).
    """
    offset = 0 if pending else skip
    listed = [*stored, *(Listed(r.start, r.activation_id, len(r.doc), r) for r in pending)]
    listed.sort(key=lambda entry: (-entry.start, entry.activation_id))
    return within(listed[skip - offset : skip - offset + limit], max_bytes)


class ActivationBatcher:
    """The activation records and journal rows waiting for their group commit.

    1. `put` puts the record in `pending` (by activation id) and returns at once. A record stays
       pending, visible to reads (`get`, `matching`), until the transaction that writes it commits.
       The flusher task writes everything pending, `max_batch` records per transaction,
       `flush_interval_s` after the first pending one, or at once when `max_batch` are pending,
       `flush()` is waiting, or the record replaces a journal row never committed (`journal`'s: a
       blocking caller flushes next).
    2. Backpressure: `put` never drops a record. It returns True once `max_pending` records are
       pending (the database is slow or failing); the caller must then `await flush()` before
       putting more, which waits for the write or raises `StoreError` if it fails.
    3. A failed write keeps its rows pending, logs once per failure streak, fails the `flush()` calls
       waiting on it, and is retried with exponential backoff (a new `flush()` retries at once).
    4. `accept` journals an activation before it starts and returns once that is committed; `journal`
       queues the same row for the next group commit without waiting, and may be given what builds
       it instead: it is built only when a transaction takes it. A record replaces its activation's
       journal row in the transaction that writes it (a journal row still pending is simply dropped,
       and one never built never is).
    5. `start()` starts the flusher; `stop()` writes everything left and stops it, and is harmless to
       call again. Rows are taken only in between.
    """

    def __init__(
        self, write: WriteBatch, *, where: str, flush_interval_s: float, max_batch: int, max_pending: int
    ) -> None:
        self._write = write
        self._where = where
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self.pending: dict[str, ActivationRow] = {}
        self._accepted: dict[str, JournalRow] = {}  # journal rows not yet committed (or not yet built)
        self._put_seq = 0  # puts so far
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()  # something is pending
        self._hurry = asyncio.Event()  # write it now
        self._failing = False
        self._flusher: asyncio.Task[None] | None = None
        self._accepting = False

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._run_flusher(), name="whisklet-store-flusher")
            self._accepting = True

    async def stop(self) -> None:
        """Write everything pending, then stop the flusher.

        If the last write fails the flusher is stopped all the same and `StoreError` says how many
        activation records were not written.
        """
        if self._flusher is None:
            return
        error: StoreError | None = None
        try:
            while self.pending or self._accepted:
                await self.flush()
        except StoreError as exc:
            error = StoreError(f"{len(self.pending)} activation records were not written: {exc}")
        self._accepting = False  # no await since the last check: every accepted row is written
        flusher, self._flusher = self._flusher, None
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        if error is not None:
            raise error

    def _check_open(self, activation_id: str) -> None:
        if not self._accepting:
            raise StoreError(f"recording activation {activation_id}: the store for {self._where} is not open")

    def put(self, row: ActivationRow) -> bool:
        """Queue the record for the next batch; it is readable at once. True: flush before putting more."""
        self._check_open(row.activation_id)
        if not (isinstance(row.start, int) and isinstance(row.end, int) and isinstance(row.doc, bytes)):
            raise TypeError(f"activation {row.activation_id}: start and end must be int and doc bytes")
        self.pending[row.activation_id] = row
        # its journal row need not be written any more; one never committed is a blocking caller's,
        # who flushes next: the commit starts now, while the caller is still being woken
        blocking = self._accepted.pop(row.activation_id, None) is not None
        self._put_seq += 1
        self._wake.set()
        if (blocking or len(self.pending) >= self._max_batch) and not self._failing:  # failing: keep the backoff
            self._hurry.set()
        return len(self.pending) >= self._max_pending

    def journal(self, activation_id: str, row: JournalRow) -> None:
        """Queue an accepted activation's journal row (or what builds it) for the next group commit,
        without waiting."""
        self._check_open(activation_id)
        self._accepted[activation_id] = row
        self._put_seq += 1
        self._wake.set()

    async def accept(self, row: ActivationRow) -> None:
        """Journal `row` and return once it is committed; on `StoreError` the journal row is forgotten."""
        self.journal(row.activation_id, row)
        try:
            await self.flush()
        except StoreError:
            if self._accepted.get(row.activation_id) is row:  # not committed by an earlier chunk
                del self._accepted[row.activation_id]
                raise

    async def flush(self) -> None:
        """Return once every row put before the call is committed; `StoreError` if the write fails."""
        if not self.pending and not self._accepted:
            return
        if self._flusher is None:
            raise StoreError(f"flushing activations: the store for {self._where} is not open")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._put_seq, waiter))
        self._hurry.set()
        await waiter

    def get(self, namespace: str, activation_id: str) -> ActivationRow | None:
        row = self.pending.get(activation_id)
        return row if row is not None and row.namespace == namespace else None

    def matching(self, namespace: str, name: str | None, since: int | None, upto: int | None) -> list[ActivationRow]:
        """The pending records a list or count with these filters must merge in."""
        return [
            r
            for r in self.pending.values()
            if r.namespace == namespace
            and (name is None or r.name == name)
            and (since is None or r.start >= since)
            and (upto is None or r.start <= upto)
        ]

    async def _run_flusher(self) -> None:
        failures = 0
        while True:
            if not self.pending and not self._accepted:
                self._wake.clear()
                await self._wake.wait()
                continue
            if failures:
                delay = min(self._flush_interval_s * 2 ** min(failures, 16), MAX_RETRY_DELAY_S)
            else:
                delay = self._flush_interval_s
            if not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._hurry.wait()
            self._hurry.clear()
            failures = 0 if await self._write_pending() else failures + 1

    async def _write_pending(self) -> bool:
        """Write everything pending, `max_batch` records per transaction so reads can run in between.

        On failure the unwritten rows stay pending and the waiting `flush()` calls fail.
        """
        batch = list(self.pending.values())
        journal = [built for aid, row in list(self._accepted.items()) if (built := self._built(aid, row)) is not None]
        seq = self._put_seq
        loop = asyncio.get_running_loop()
        for first in range(0, max(len(batch), 1), self._max_batch):
            chunk = batch[first : first + self._max_batch]
            accepted, journal = journal, []  # all of the journal goes in the first transaction
            if not chunk and not accepted:
                break
            # The engine hands the commit back itself (from the store's thread, for SQLite), ahead of
            # this task's own wake-up: the waiters of the last transaction wake one loop turn sooner.
            handed_back = seq if first + self._max_batch >= len(batch) else 0
            committed = functools.partial(loop.call_soon_threadsafe, self._committed, chunk, accepted, handed_back)
            try:
                await self._write(chunk, accepted, committed)
            except Exception as failure:
                self._fail_waiters(failure)
                return False
        if self._failing:
            self._failing = False
            log.warning("activation records are being written again to %s", self._where)
        self._committed([], [], seq)
        return True

    def _built(self, activation_id: str, row: JournalRow) -> ActivationRow | None:
        """The journal row, built now if it was queued as what builds it (kept built, so that
        `_committed` finds the very row it wrote); None, logged and forgotten, if building it failed:
        the activation's own record still comes, only its crash-time stand-in is lost."""
        if isinstance(row, ActivationRow):
            return row
        try:
            built = self._accepted[activation_id] = row()
        except Exception:
            log.exception("activation %s: its journal row could not be built; it is not journalled", activation_id)
            del self._accepted[activation_id]
            return None
        return built

    def _committed(self, rows: list[ActivationRow], accepted: list[ActivationRow], seq: int) -> None:
        """`rows` and `accepted` are committed: they stop being pending, and the `flush()` calls waiting
        for puts up to `seq` (0: none) are answered. Harmless to repeat."""
        for row in rows:
            if self.pending.get(row.activation_id) is row:
                del self.pending[row.activation_id]
        for row in accepted:
            if self._accepted.get(row.activation_id) is row:
                del self._accepted[row.activation_id]
        still_waiting = []
        for target, waiter in self._waiters:
            if target <= seq:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still_waiting.append((target, waiter))
        self._waiters = still_waiting

    def _fail_waiters(self, failure: Exception) -> None:
        if isinstance(failure, StoreError):
            error = failure
        else:
            error = StoreError(f"writing activation records to {self._where} failed: {failure!r}")
        if not self._failing:
            self._failing = True
            log.error("%s; %d records kept in memory, retrying", error, len(self.pending))
        waiters, self._waiters = self._waiters, []
        for _, waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)


class BatchedActivations:
    """What every engine's `Store` does alike with activations: puts, journal rows and flushes go to
    its `_batcher`, whose `WriteBatch` is the engine's one transaction."""

    _batcher: ActivationBatcher

    def put_activation(self, row: ActivationRow) -> bool:
        return self._batcher.put(row)

    def journal(self, activation_id: str, row: JournalRow) -> None:
        self._batcher.journal(activation_id, row)

    async def accept(self, row: ActivationRow) -> None:
        await self._batcher.accept(row)

    async def flush(self) -> None:
        """Return once every activation record put before the call is committed.

        Raises `StoreError` if the write fails; the records stay pending and are retried.
        """
        await self._batcher.flush()

    async def _stop_background(self, *tasks: asyncio.Task[None] | None) -> StoreError | None:
        """Write what is pending and stop the flusher, then stop `tasks` (the engine's watch for outside
        writes, the heartbeat). Returns the last write's `StoreError`, for the engine to raise once closed."""
        error: StoreError | None = None
        try:
            await self._batcher.stop()
        except StoreError as exc:
            error = exc
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return error
