"""The one place the offline engine touches websockets' internals: several frames, one write.

``ClientConnection.send`` writes each frame to the socket on its own: a window of 256 mutations
is 256 ``send`` syscalls on this side and as many small reads and event-loop turns on the
server's. Sending them in one socket write measured ~15% less CPU per acked mutation on both
sides in the replay bench (docs/PERFORMANCE.md). websockets has no public "send these frames
together", so this module uses, and only this module may use:

- ``Connection.send_context()``: checks the connection is open, applies flow control on the way
  out (waits while the write buffer is over its high-water mark) and raises
  ``ConnectionClosed`` on a broken socket, as ``send`` does;
- ``Connection.protocol`` (the Sans-I/O ``Protocol``): ``send_text`` and ``data_to_send``;
- ``Connection.transport``: the asyncio transport the bytes go to (and ``abort``, to drop a
  connection from a callback).

tests/test_offline_websockets_adapter.py fails if any of these changes under a new release
(names, or frames that no longer arrive whole and in order); ``send_frames`` then falls back
to nothing clever: fix it, or replace its body with a loop of ``await ws.send(text)``.
"""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection

INTERNALS = ("send_context", "protocol", "transport")
"""The connection attributes used here (the adapter test checks they are still there)."""


async def send_frames(ws: ClientConnection, texts: list[str]) -> None:
    """Send text frames, in order, in one socket write."""
    if len(texts) == 1:
        await ws.send(texts[0])
        return
    async with ws.send_context():
        protocol = ws.protocol
        for text in texts:
            protocol.send_text(text.encode())
        chunks = protocol.data_to_send()
        data = b"".join(chunks)
        if data:
            ws.transport.write(data)
        if not all(chunks):  # the protocol asked to half-close (never while open, but obey it)
            if ws.transport.can_write_eof():
                ws.transport.write_eof()
            else:
                ws.transport.close()


def abort(ws: ClientConnection) -> None:
    """Drop the connection now, without a closing handshake (from a callback that cannot
    await ``ws.close()``); the reader then sees it closed."""
    if ws.transport is not None:
        ws.transport.abort()
