"""The PostgreSQL connection: the pool, and the one place its errors become StoreErrors that say what to do."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from gateway.store.base import StoreError

COMMAND_TIMEOUT_S = 30.0
"""No statement waits longer than this for PostgreSQL; a StoreError then says so."""

CONNECT_TIMEOUT_S = 10.0

POOL_SIZE = 8
"""Connections for entity reads and writes, lists and counts."""


def store_error(shown: str, what: str, exc: BaseException) -> StoreError:
    """The one place a PostgreSQL or connection error becomes a StoreError naming what to do."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        advice = f"PostgreSQL at {shown} refused the user: check the user name and password in store.url"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        advice = f"the database of {shown} does not exist: create it (createdb) or fix store.url"
    elif isinstance(exc, asyncpg.DiskFullError):
        advice = f"the disk of the PostgreSQL server at {shown} is full: free some space"
    elif isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        advice = f"the database {shown} is read-only (a standby?): point store.url at the primary"
    elif isinstance(exc, asyncpg.InsufficientPrivilegeError):
        advice = f"the user of {shown} lacks a privilege: grant it ownership of the database"
    elif isinstance(exc, TimeoutError):
        advice = f"PostgreSQL at {shown} did not answer in time: check that it runs and is not overloaded"
    elif isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        advice = f"cannot reach PostgreSQL at {shown}: check that it runs and listens there"
    else:
        advice = f"the database {shown} failed"
    return StoreError(f"{what}: {advice} ({type(exc).__name__}: {exc})")


async def open_pool(dsn: str, size: int) -> asyncpg.Pool:
    """A pool of `size` connections to `dsn` (raises asyncpg's and the OS's errors as they are)."""
    return await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, command_timeout=COMMAND_TIMEOUT_S, timeout=CONNECT_TIMEOUT_S,
        server_settings={"application_name": "whisklet"},
    )
