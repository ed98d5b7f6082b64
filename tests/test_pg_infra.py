"""The test infrastructure for several instances works: a throw-away PostgreSQL, a real HAProxy.

These are the parts the multi-instance tests stand on; when one of them breaks, these tests say
which, before a server test fails for a reason that has nothing to do with the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from haproxy import EXAMPLE, HAProxy
from pg_cluster import PgCluster
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from backend.app import FrontdeskServer


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


async def test_a_listener_whose_connection_is_cut_hears_about_it(
    pg_cluster: PgCluster, pg_url: str
) -> None:
    listener = await asyncpg.connect(pg_url)
    lost = asyncio.Event()
    listener.add_termination_listener(lambda _conn: lost.set())
    await listener.add_listener("changes", lambda *_: None)

    assert pg_cluster.terminate_connections(pg_url.rsplit("/", 1)[1]) == 1
    await asyncio.wait_for(lost.wait(), 5)  # the server closed the socket: no query needed
    assert listener.is_closed()


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


class Backend:
    """A tiny WebSocket server standing in for an instance: says its name, answers /readyz."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = True
        self.server: Server | None = None

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/readyz":
            return connection.respond(200 if self.ready else 503, "ready\n" if self.ready else "")
        if request.path == "/whoami":
            return connection.respond(200, self.name)
        return None  # /ws: go on with the WebSocket handshake

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(self.name)
        await ws.wait_closed()

    async def __aenter__(self) -> tuple[str, int]:
        self.server = await serve(
            self.handler, "127.0.0.1", 0, process_request=self.process_request
        )
        return self.server.sockets[0].getsockname()[:2]

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def whoami(url: str) -> str:
    """One request on a new connection (so each one is balanced on its own)."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/whoami")
        response.raise_for_status()
        return response.text


async def test_haproxy_spreads_websockets_and_skips_an_instance_that_is_not_ready(
    start_haproxy: Callable[..., HAProxy],
) -> None:
    a, b = Backend("a"), Backend("b")
    async with a as addr_a, b as addr_b:
        lb = start_haproxy([addr_a, addr_b])
        first, second = lb.names
        await lb.wait_state(first, "UP")
        await lb.wait_state(second, "UP")

        # leastconn: a second long-lived connection goes to the instance that has none.
        async with connect(lb.ws_url) as one, connect(lb.ws_url) as two:
            names = {await asyncio.wait_for(one.recv(), 5), await asyncio.wait_for(two.recv(), 5)}
        assert names == {"a", "b"}

        a.ready = False  # e.g. a lost its database: /readyz answers 503
        await lb.wait_state(first, "DOWN")
        assert {await whoami(lb.url) for _ in range(6)} == {"b"}

        a.ready = True
        await lb.wait_state(first, "UP")
        assert {await whoami(lb.url) for _ in range(6)} == {"a", "b"}

        await lb.set_state(first, "drain")  # an operator before maintenance
        assert {await whoami(lb.url) for _ in range(4)} == {"b"}


async def test_an_instance_that_is_gone_is_taken_out_and_the_others_serve(
    start_haproxy: Callable[..., HAProxy],
) -> None:
    a, b = Backend("a"), Backend("b")
    async with b as addr_b:
        async with a as addr_a:
            lb = start_haproxy([addr_a, addr_b])
            await lb.wait_state(lb.names[0], "UP")
        await lb.wait_state(lb.names[0], "DOWN")  # a's port refuses connections now
        assert {await whoami(lb.url) for _ in range(4)} == {"b"}


async def test_a_reconnect_right_after_an_instance_died_lands_on_another_at_once(
    start_haproxy: Callable[..., HAProxy],
) -> None:
    """Before the health checks notice (here: checks 5 s apart), the refused connection is
    redispatched to a live instance: failover does not wait for ``inter * fall``."""
    a, b = Backend("a"), Backend("b")
    async with b as addr_b:
        async with a as addr_a:
            lb = start_haproxy([addr_a, addr_b], inter="5s")
            await lb.wait_state(lb.names[0], "UP")  # the first checks run at start
        assert {await whoami(lb.url) for _ in range(4)} == {"b"}
        assert (await lb.states())[lb.names[0]].startswith("UP")  # not yet noticed as down


async def test_the_example_config_health_checks_a_real_frontdesk_server(
    server: FrontdeskServer, start_haproxy: Callable[..., HAProxy]
) -> None:
    """The check HAProxy sends (HTTP/1.0, no Host) is one the real server answers."""
    lb = start_haproxy([("127.0.0.1", server.port)])
    await lb.wait_state(lb.names[0], "UP")
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{lb.url}/healthz")).status_code == 200


def test_operations_md_shows_the_haproxy_config_the_tests_run() -> None:
    operations = (EXAMPLE.parent / "OPERATIONS.md").read_text()
    block = operations.split("```haproxy\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text()
