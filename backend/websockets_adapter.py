"""The one module that touches websockets' internals, for two measured speed-ups and two needs.

Everything else in ``backend/`` uses websockets' documented API (``serve``, ``ws.state``,
``ws.send``, ``websockets.broadcast``, ``ws.close``, ``ws.ping``). Four things have no public
equivalent, so they live here, behind functions with a stable meaning, and
``tests/test_websockets_adapter.py`` fails if websockets changes underneath them:

- **Frames past the message queue** (``FastPathConnection``): websockets parses frames in
  ``data_received`` and queues each message for the connection's reader task, which wakes, takes
  it and hands it over. For the frame that makes up nearly all traffic (a ``mutate`` with room in
  its lane) that round trip was about a tenth of the server's CPU under load (docs/PERFORMANCE.md,
  commit ``237d859``). A frame the handler accepts never enters the queue; anything else, and
  everything while an older frame is still queued (so the order is kept), goes the usual way.
  Uses: ``Connection.process_event`` (a private method) and ``recv_messages.frames``.
- **A batch of frames in one write** (``send_batch``): ``broadcast``/``send`` make one ``send``
  syscall per frame; joined, one group commit's frames for one connection leave in one
  (8 clients: 2,114 → 5,529 acked creates/s, commit ``97757e5``). Uses: ``ws.protocol.send_text``,
  ``protocol.data_to_send()``, ``ws.transport.write``.
- **How far behind a peer is** (``write_backlog``): the bytes waiting in the transport's write
  buffer, so a client that stopped reading is closed (1013) instead of growing the server's
  memory, and not pinged (``ping`` would wait for the buffer). Uses: ``ws.transport``.
- **Dropping a peer that does not even read a close frame** (``abort``). Uses: ``ws.transport``.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event
from websockets.typing import BytesLike

FastText = Callable[[BytesLike], bool]
"""Takes a complete text frame's UTF-8 payload; True when it handled the frame completely."""


class FastPathConnection(ServerConnection):
    """A ``ServerConnection`` that offers each complete text frame to ``fast_text`` first.

    Passed to ``serve(create_connection=…)``.
    """

    fast_text: FastText | None = None

    def process_event(self, event: Event) -> None:
        handler = self.fast_text
        if (
            handler is not None
            and type(event) is Frame
            and event.opcode is Opcode.TEXT
            and event.fin
            and not self.recv_messages.frames  # a queued frame is older: keep the order
            and handler(event.data)
        ):
            return
        super().process_event(event)


def set_fast_text(ws: ServerConnection, handler: FastText | None) -> None:
    """Offer ``ws``'s complete text frames to ``handler`` before its message queue (when ``ws``
    was made by ``FastPathConnection``; otherwise every frame takes the usual way)."""
    if isinstance(ws, FastPathConnection):
        ws.fast_text = handler


def write_backlog(ws: ServerConnection) -> int:
    """Bytes written to ``ws`` that the peer has not taken yet (0 once the socket is gone)."""
    return ws.transport.get_write_buffer_size()


def abort(ws: ServerConnection) -> None:
    """Drop the TCP connection now, without a closing handshake."""
    ws.transport.abort()


def send_batch(ws: ServerConnection, frames: list[bytes]) -> None:
    """Queue ``frames`` (UTF-8 JSON, one text message each) and write them in one syscall.

    The caller checks ``ws.state`` first; an exception means the connection broke meanwhile.
    """
    protocol = ws.protocol
    send_text = protocol.send_text
    for data in frames:
        send_text(data)
    chunks = protocol.data_to_send()
    transport = ws.transport
    if all(chunks):
        transport.write(b"".join(chunks))
        return
    for chunk in chunks:  # an empty chunk means half-close, as ``send_data`` does it
        if chunk:
            transport.write(chunk)
        elif transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()
