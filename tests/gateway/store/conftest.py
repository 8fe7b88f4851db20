"""The store contract suite runs on both engines: `engine` is SQLite (a file per test) or PostgreSQL.

PostgreSQL: a database of this session's own (`postgres.fresh_database`), emptied after each test and
dropped at the end. Without `WHISKLET_TEST_POSTGRES_URL` the PostgreSQL cases are skipped with that
reason; with it set and the server missing they fail.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.store import SqliteStore
from gateway.store.postgresql import PostgresStore
from tests.gateway.store import faults
from tests.gateway.store.postgres import fresh_database

_TABLES = "subjects, entities, activations, accepted, alarms, log_forwarding, apis, nodes"


class SqliteEngine:
    """Stores on one SQLite file, and what a test sees of that file from outside the store."""

    name = "sqlite"
    read_only_says = "read-only: check its permissions and that its disk is writable"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def store(self, **options: Any) -> SqliteStore:
        return SqliteStore(self.path, **options)

    async def stored_activation_ids(self) -> set[str]:
        return set(await asyncio.to_thread(self._column, "SELECT activation_id FROM activations"))

    async def journal_ids(self) -> list[str]:
        return await asyncio.to_thread(self._column, "SELECT activation_id FROM accepted")

    async def heartbeats(self) -> dict[str, int]:
        def read() -> dict[str, int]:
            with sqlite3.connect(self.path) as db:
                return dict(db.execute("SELECT node_id, heartbeat FROM nodes").fetchall())

        return await asyncio.to_thread(read)

    def _column(self, sql: str) -> list[str]:
        with sqlite3.connect(self.path) as db:
            return [r[0] for r in db.execute(sql)]

    async def change_entity_doc_behind_the_stores_back(self, name: str, doc: bytes) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("UPDATE entities SET doc = ? WHERE name = ?", (doc, name))

    async def make_newer(self) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("PRAGMA user_version = 99")

    async def make_read_only(self, store: Any) -> None:
        await faults.make_read_only(store)

    async def make_writable(self, store: Any) -> None:
        await faults.make_writable(store)


class PostgresEngine:
    """Stores on this session's PostgreSQL database, and what a test sees of it from another connection."""

    name = "postgresql"
    read_only_says = "is read-only"

    def __init__(self, dsn: str, database: str) -> None:
        self.dsn = dsn
        self.database = database
        self.where = database

    def store(self, **options: Any) -> PostgresStore:
        options.pop("external_check_s", None)  # SQLite's poll; PostgreSQL is told at once (LISTEN)
        return PostgresStore(self.dsn, shown=self.database, **options)

    async def _run(self, sql: str, *args: Any) -> list[Any]:
        db = await asyncpg.connect(self.dsn, server_settings={"default_transaction_read_only": "off"})
        try:
            return list(await db.fetch(sql, *args))
        finally:
            await db.close()

    async def stored_activation_ids(self) -> set[str]:
        return {r[0] for r in await self._run("SELECT activation_id FROM activations")}

    async def journal_ids(self) -> list[str]:
        return [r[0] for r in await self._run("SELECT activation_id FROM accepted")]

    async def heartbeats(self) -> dict[str, int]:
        return {r[0]: r[1] for r in await self._run("SELECT node_id, heartbeat FROM nodes")}

    async def change_entity_doc_behind_the_stores_back(self, name: str, doc: bytes) -> None:
        await self._run("UPDATE entities SET doc = $1 WHERE name = $2", doc, name)

    async def make_newer(self) -> None:
        await self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied BIGINT)")
        await self._run("INSERT INTO schema_version VALUES (99, 0)")

    async def make_read_only(self, store: Any) -> None:
        await self._run(f'ALTER DATABASE "{self.database}" SET default_transaction_read_only = on')
        await self._reconnect(store)

    async def make_writable(self, store: Any) -> None:
        await self._run(f'ALTER DATABASE "{self.database}" RESET default_transaction_read_only')
        await self._reconnect(store)

    @staticmethod
    async def _reconnect(store: Any) -> None:
        for pool in (store._pool, store._writer):
            await pool.expire_connections()

    async def reset(self) -> None:
        """Empty every table after a test, and undo what a test may have changed in the database."""
        await self._run(f'ALTER DATABASE "{self.database}" RESET default_transaction_read_only')
        if (await self._run("SELECT to_regclass('subjects') IS NOT NULL"))[0][0]:
            await self._run(f"TRUNCATE {_TABLES}")
            await self._run("DELETE FROM schema_version WHERE version > 90")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[tuple[str, str]]:
    """(dsn, name) of a database created for this session and dropped after it."""
    with fresh_database() as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteEngine | PostgresEngine]:
    if request.param == "sqlite":
        yield SqliteEngine(tmp_path / "whisklet.db")
        return
    dsn, database = request.getfixturevalue("postgres_database")
    postgres = PostgresEngine(dsn, database)
    try:
        yield postgres
    finally:
        await postgres.reset()
