"""Sustained activation-record write rate of each store engine, with the real schema and batching, in one run.

    python -m bench.store_write_rate [--records 20000] [--accepted 3000] [--parallel 32] [--rounds 2]
                                     [--doc-bytes 1024] [--postgres URL] [--time-limit-s 60]

Per engine (SQLite in a temporary file; PostgreSQL in a database this run creates on `--postgres`'s server,
default `WHISKLET_TEST_POSTGRES_URL`, and drops at the end), round after round so that load drift from other
users of the machine hits both alike:
1. records: `--records` activation records put as fast as the store takes them (`put_activation`, and
   `flush()` whenever it signals backpressure), then a last `flush()`: the write-behind's ceiling, records
   group-committed `max_batch` (256) at a time;
2. accepted: `--accepted` activations as a non-blocking invoke records them, `--parallel` at a time: the
   journal row committed (`accept`), then the record put and committed (`flush()`): two durable commits
   per activation, shared with whatever else is pending (group commit).
Each phase is bounded by `--time-limit-s`; a phase cut short reports the rate of what it wrote. Records
are `--doc-bytes` JSON documents. The PostgreSQL server is the machine's own (loopback only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from gateway.store import ActivationRow, Store
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore


def record(index: int, doc_bytes: int) -> ActivationRow:
    activation_id = f"{index:032x}"
    padding = "x" * max(doc_bytes - 160, 0)
    doc = (
        f'{{"activationId":"{activation_id}","namespace":"bench","name":"echo","response":'
        f'{{"status":"success","result":{{"pad":"{padding}"}}}},"logs":[]}}'
    ).encode()
    return ActivationRow(activation_id, "bench", "echo", 1_000_000 + index, 1_000_005 + index, doc)


async def records_phase(store: Store, count: int, doc_bytes: int, deadline: float) -> int:
    written = 0
    for index in range(count):
        if time.monotonic() > deadline:
            break
        if store.put_activation(record(index, doc_bytes)):
            await store.flush()
        written += 1
    await store.flush()
    return written


async def accepted_phase(store: Store, count: int, parallel: int, doc_bytes: int, deadline: float) -> int:
    next_index = iter(range(10_000_000, 10_000_000 + count))
    done = 0

    async def worker() -> None:
        nonlocal done
        for index in next_index:
            if time.monotonic() > deadline:
                return
            row = record(index, doc_bytes)
            await store.accept(row)
            store.put_activation(row)
            await store.flush()
            done += 1

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return done


@contextlib.asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    name = f"whisklet_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def measure(make: Callable[[], Store], args: argparse.Namespace) -> tuple[float, float]:
    """(records/s, accepted activations/s) on a fresh store from `make`."""
    store = make()
    await store.open()
    try:
        began = time.monotonic()
        written = await records_phase(store, args.records, args.doc_bytes, began + args.time_limit_s)
        records_rate = written / (time.monotonic() - began)
        began = time.monotonic()
        done = await accepted_phase(store, args.accepted, args.parallel, args.doc_bytes, began + args.time_limit_s)
        accepted_rate = done / (time.monotonic() - began)
    finally:
        await store.close()
    return records_rate, accepted_rate


async def main(args: argparse.Namespace) -> None:
    if not args.postgres:
        raise SystemExit(
            "no PostgreSQL: pass --postgres URL or set WHISKLET_TEST_POSTGRES_URL (scripts/setup starts one)"
        )
    print(f"{args.records} records, {args.accepted} accepted activations at {args.parallel} in parallel,"
          f" {args.doc_bytes}-byte documents; rates in per second")
    print(f"{'round':>5} {'engine':<11} {'records/s':>10} {'accepted/s':>11} {'load':>6}")
    async with postgres_database(args.postgres) as dsn:
        with tempfile.TemporaryDirectory(prefix="whisklet-bench-") as scratch:
            for round_number in range(1, args.rounds + 1):
                sqlite_file = Path(scratch) / f"round{round_number}.db"
                engines: list[tuple[str, Callable[[], Store]]] = [
                    ("sqlite", lambda: SqliteStore(sqlite_file)),  # noqa: B023 - measured before the next round
                    ("postgresql", lambda: PostgresStore(dsn, shown="the bench database")),
                ]
                for engine, make in engines:
                    if engine == "postgresql":
                        await empty_activations(dsn)
                    records_rate, accepted_rate = await measure(make, args)
                    load = os.getloadavg()[0]
                    print(f"{round_number:>5} {engine:<11} {records_rate:>10.0f} {accepted_rate:>11.0f} {load:>6.1f}")


async def empty_activations(dsn: str) -> None:
    """Empty the bench database's activation tables, so every round starts as the SQLite file does."""
    db = await asyncpg.connect(dsn, timeout=10)
    try:
        if await db.fetchval("SELECT to_regclass('activations') IS NOT NULL"):
            await db.execute("TRUNCATE activations, accepted")
    finally:
        await db.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.store_write_rate", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--accepted", type=int, default=3000)
    parser.add_argument("--parallel", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--doc-bytes", type=int, default=1024)
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--postgres", default=os.environ.get("WHISKLET_TEST_POSTGRES_URL", ""))
    args = parser.parse_args(argv)
    for name in ("records", "accepted", "parallel", "rounds"):
        if not 1 <= getattr(args, name) <= 1_000_000:
            parser.error(f"--{name} must be from 1 to 1000000")
    if not 0 < args.time_limit_s <= 600:
        parser.error("--time-limit-s must be more than 0 and at most 600")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
