"""The test infrastructure for several instances works: a throw-away PostgreSQL, a real HAProxy.

These are the parts the multi-instance tests stand on; when one of them breaks, these tests say
which, before a server test fails for a reason that has nothing to do with the server.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from pg_cluster import PgCluster


async def test_each_test_database_is_empty_and_its_own(pg_cluster: PgCluster) -> None:
    first, second = pg_cluster.create_database(), pg_cluster.create_database()
    assert first != second
    a = await asyncpg.connect(pg_cluster.dsn(first))
    b = await asyncpg.connect(pg_cluster.dsn(second))
    try:
        await a.execute("CREATE TABLE guests (name text)")
        await a.execute("INSERT INTO guests VALUES ('Zoë')")
        assert await a.fetchval("SELECT name FROM guests") == "Zoë"
        assert await b.fetchval("SELECT to_regclass('guests')") is None
    finally:
        await a.close()
        await b.close()
        pg_cluster.release_database(first)
        pg_cluster.release_database(second)


async def test_a_notification_reaches_a_listener_on_another_connection(pg_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(pg_url)
    sender = await asyncpg.connect(pg_url)
    try:
        await listener.add_listener(
            "changes", lambda _c, _pid, _ch, payload: heard.put_nowait(payload)
        )
        async with sender.transaction():
            await sender.execute("SELECT pg_notify('changes', '42')")
        assert await asyncio.wait_for(heard.get(), 5) == "42"
    finally:
        await listener.close()
        await sender.close()


async def test_committed_rows_survive_a_restart_and_clients_reconnect(
    pg_cluster: PgCluster, pg_url: str
) -> None:
    conn = await asyncpg.connect(pg_url)
    await conn.execute("CREATE TABLE log (seq bigint PRIMARY KEY)")
    await conn.execute("INSERT INTO log SELECT generate_series(1, 100)")
    port = pg_cluster.port

    await pg_cluster.arestart()

    assert pg_cluster.port == port
    with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
        await conn.fetchval("SELECT 1")
    await conn.close()
    again = await asyncpg.connect(pg_url)
    try:
        assert await again.fetchval("SELECT count(*) FROM log") == 100
    finally:
        await again.close()


async def test_a_crash_loses_nothing_committed(pg_cluster: PgCluster, pg_url: str) -> None:
    """fsync=off in tests still keeps commits across a PostgreSQL crash (not an OS crash)."""
    conn = await asyncpg.connect(pg_url)
    await conn.execute("CREATE TABLE log (seq bigint PRIMARY KEY)")
    await conn.execute("INSERT INTO log VALUES (1)")
    await conn.close()

    await pg_cluster.astop("immediate")
    await pg_cluster.astart()

    again = await asyncpg.connect(pg_url)
    try:
        assert await again.fetchval("SELECT count(*) FROM log") == 1
    finally:
        await again.close()
