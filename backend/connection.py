"""The server's WebSocket connection: complete text frames can skip websockets' message queue.

websockets parses frames in ``data_received`` and queues each message for the connection's
reader task, which wakes, takes it from the queue and hands it over. For the one frame that
makes up nearly all traffic (a ``mutate`` with room in its lane) that round trip was about a
tenth of the server's CPU under load. ``Session`` registers ``fast_text``; a frame it accepts
never enters the queue, anything else (and everything while the queue or the reader is busy,
so the order of frames is kept) goes the usual way.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode


class FrontdeskConnection(ServerConnection):
    """A ``ServerConnection`` that offers each complete text frame to ``fast_text`` first."""

    fast_text: Callable[[bytes], bool] | None = None
    """Takes a frame's UTF-8 payload; True when it handled the frame completely."""

    def process_event(self, event: object) -> None:
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
        super().process_event(event)  # type: ignore[arg-type]
