"""A PostgreSQL database of a test's own on `WHISKLET_TEST_POSTGRES_URL`'s server, dropped after it.

scripts/test sets the variable (scripts/setup's cluster on 127.0.0.1). Without it the tests that need the
database are skipped with that reason; with it set and the server missing they fail. Only databases
created here are dropped; no other database is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

POSTGRES_URL = os.environ.get("WHISKLET_TEST_POSTGRES_URL", "")
SKIP_REASON = "WHISKLET_TEST_POSTGRES_URL is not set (scripts/test sets it; scripts/setup starts PostgreSQL)"


def _admin(sql: str) -> None:
    async def run() -> None:
        db = await asyncpg.connect(POSTGRES_URL, timeout=10)
        try:
            await db.execute(sql)
        finally:
            await db.close()

    with ThreadPoolExecutor(1) as thread:  # callers may be inside a running event loop
        thread.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def fresh_database(prefix: str = "whisklet_test") -> Iterator[tuple[str, str]]:
    """(dsn, name) of a new, empty database; skips the test when no server is configured."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    name = f"{prefix}_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}")), name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
