"""The server's one piece of shared lifecycle state: whether it has started shutting down."""

from __future__ import annotations


class Shutdown:
    """Set once when the server starts closing. The parts that answer differently from then on
    (``/readyz``, the WebSocket upgrade, presence) hold this object, not the server."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False

    def begin(self) -> None:
        self.started = True
