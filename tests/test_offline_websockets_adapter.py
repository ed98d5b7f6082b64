"""The websockets internals ``offline.websockets_adapter`` relies on are still there and work.

If a websockets release renames ``send_context``, ``protocol`` or ``transport``, or changes what
they do so that frames sent together no longer arrive whole and in order, this fails: then fix
the adapter (or fall back to one ``ws.send`` per frame there), nothing else.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from offline.websockets_adapter import INTERNALS, send_frames


async def test_frames_sent_together_arrive_whole_and_in_order():
    received: list[str] = []
    done = asyncio.Event()
    texts = [f'{{"n":{n},"text":"{"é" * (n % 7)}"}}' for n in range(1, 301)]

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            assert isinstance(message, str)
            received.append(message)
            if len(received) == len(texts) + 1:
                done.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            for name in INTERNALS:
                assert hasattr(ws, name), f"websockets' ClientConnection lost {name!r}"
            await send_frames(ws, texts)
            await send_frames(ws, ["one alone"])
            await asyncio.wait_for(done.wait(), 5)
    assert received == [*texts, "one alone"]


async def test_sending_on_a_closed_connection_raises_connection_closed():
    async def handler(ws: ServerConnection) -> None:
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws: ClientConnection = await connect(f"ws://127.0.0.1:{port}")
        await ws.wait_closed()
        with pytest.raises(ConnectionClosed):
            await send_frames(ws, ["a", "b"])
