"""``backend/websockets_adapter.py`` against the installed websockets: these fail when a release
changes the internals the adapter relies on (then the adapter, and only it, needs work)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.typing import BytesLike

from backend.websockets_adapter import (
    FastPathConnection,
    abort,
    send_batch,
    set_fast_text,
    write_backlog,
)

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def pair(
    handler: Handler, client_queue: int = 16
) -> AsyncIterator[tuple[ServerConnection, ClientConnection]]:
    """A real server connection made by ``FastPathConnection`` and the client talking to it
    (uncompressed, as frontdesk serves)."""
    connected: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def serve_one(ws: ServerConnection) -> None:
        connected.set_result(ws)
        await handler(ws)
        await done.wait()

    async with serve(
        serve_one, "127.0.0.1", 0, create_connection=FastPathConnection, compression=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        async with connect(url, max_queue=client_queue, compression=None) as client:
            ws = await asyncio.wait_for(connected, 5)
            try:
                yield ws, client
            finally:
                done.set()


async def test_complete_text_frames_go_to_the_fast_handler_unless_an_older_one_is_queued():
    fast: list[str] = []

    def take(data: BytesLike) -> bool:
        text = str(data, "utf-8")
        if text.startswith("fast"):
            fast.append(text)
            return True
        return False

    async def nothing(ws: ServerConnection) -> None:
        set_fast_text(ws, take)

    async with pair(nothing) as (ws, client):
        await client.send("fast 1")
        await client.send("slow 1")
        await client.send("fast 2")  # "slow 1" waits in the queue: this one must queue behind it
        assert await asyncio.wait_for(ws.recv(), 5) == "slow 1"
        assert await asyncio.wait_for(ws.recv(), 5) == "fast 2"
        await client.send("fast 3")
        await client.send("slow 2")
        assert await asyncio.wait_for(ws.recv(), 5) == "slow 2"
        assert fast == ["fast 1", "fast 3"]


async def test_a_batch_arrives_as_separate_messages_in_order():
    async with pair(lambda ws: asyncio.sleep(0)) as (ws, client):
        send_batch(ws, [b'{"a":1}', '{"b":"é"}'.encode(), b"{}"])
        got = [await asyncio.wait_for(client.recv(), 5) for _ in range(3)]
        assert got == ['{"a":1}', '{"b":"é"}', "{}"]
        assert write_backlog(ws) == 0


async def test_the_backlog_grows_while_the_peer_does_not_read_and_abort_drops_it():
    async with pair(lambda ws: asyncio.sleep(0), client_queue=1) as (ws, client):
        frame = b"x" * 65_536
        sent = 0
        while write_backlog(ws) == 0 and sent < 1024:  # at most 64 MiB
            send_batch(ws, [frame] * 16)
            sent += 16
            await asyncio.sleep(0)
        assert write_backlog(ws) > 0, "the kernel took 64 MiB without the client reading"
        abort(ws)
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.state is State.CLOSED
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(client.recv(), 5)
