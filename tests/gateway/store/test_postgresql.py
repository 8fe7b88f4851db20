"""What only the PostgreSQL engine has: its listening connection, and its schema_version table."""

import asyncio
import os
import signal

import asyncpg
import pytest

from gateway.store.postgresql import SCHEMA_VERSION, PostgresStore
from gateway.store.postgresql.store import LISTENER_NAME
from tests.gateway.store.postgres import fresh_database


@pytest.fixture(scope="module")
def dsn():
    with fresh_database("whisklet_pg") as (dsn, _):
        yield dsn


async def sql(dsn: str, statement: str, *args: object) -> list[asyncpg.Record]:
    db = await asyncpg.connect(dsn)
    try:
        return list(await db.fetch(statement, *args))
    finally:
        await db.close()


async def test_migrations_are_recorded_in_schema_version(dsn):
    store = PostgresStore(dsn)
    await store.open()
    await store.close()
    versions = [r[0] for r in await sql(dsn, "SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


async def test_a_lost_listening_connection_comes_back_and_outside_writes_are_seen_again(dsn):
    store = PostgresStore(dsn, reconnect_s=0.05)
    other = PostgresStore(dsn)
    await store.open()
    await other.open()
    try:
        await store.create_subject("lost", "uuid-lost", "k" * 64)
        assert (await store.get_subject("lost")).limits == b"{}"  # cached
        database = dsn.rsplit("/", 1)[1]
        [[killed]] = await sql(
            dsn, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = $2", LISTENER_NAME, database,
        )
        assert killed == 2  # both stores' listeners

        await other.set_subject_limits("lost", b'{"firesPerMinute":1}')  # while nobody may be listening
        async with asyncio.timeout(10):
            while (await store.get_subject("lost")).limits == b"{}":
                await asyncio.sleep(0.02)
        async with asyncio.timeout(10):  # listening again: the next outside write is seen through LISTEN
            while not store._listening:
                await asyncio.sleep(0.02)
        assert (await store.get_subject("lost")).limits == b'{"firesPerMinute":1}'  # cached again
        await other.set_subject_limits("lost", b'{"firesPerMinute":2}')
        async with asyncio.timeout(10):
            while (await store.get_subject("lost")).limits != b'{"firesPerMinute":2}':
                await asyncio.sleep(0.02)
    finally:
        await other.close()
        await store.close()


async def test_a_listening_connection_that_goes_silent_is_replaced_and_outside_writes_are_seen(dsn):
    store = PostgresStore(dsn, reconnect_s=0.05, listener_check_s=0.2)
    other = PostgresStore(dsn)
    await store.open()
    await other.open()
    frozen: list[int] = []
    try:
        await store.create_subject("silent", "uuid-silent", "k" * 64)
        assert (await store.get_subject("silent")).limits == b"{}"  # cached
        database = dsn.rsplit("/", 1)[1]
        # a silent partition: the server process of this test's own listening connections stops answering,
        # its socket stays open
        frozen = [r[0] for r in await sql(
            dsn, "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            LISTENER_NAME, database,
        )]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        await other.set_subject_limits("silent", b'{"firesPerMinute":1}')  # its NOTIFY is never delivered
        async with asyncio.timeout(10):
            while (await store.get_subject("silent")).limits == b"{}":
                await asyncio.sleep(0.02)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        await other.close()
        await store.close()
