"""Who is online and what each is viewing or editing, sent to every connection past ``hello``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from backend.hub import Hub
from backend.lifecycle import Shutdown
from protocol.wire import dumps

if TYPE_CHECKING:
    from backend.session import Session

COALESCE_SECONDS = 0.05


class Presence:
    """Sends ``presence`` frames, coalesced over 50 ms: a burst of connects or updates costs one
    frame per connection."""

    def __init__(self, hub: Hub, shutdown: Shutdown) -> None:
        self.hub = hub
        self.shutdown = shutdown
        self._pending = False

    def changed(self) -> None:
        """Someone connected, left, or changed what they view or edit: tell everyone soon."""
        if self._pending:
            return
        self._pending = True
        asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._send)

    def _send(self) -> None:
        self._pending = False
        if self.shutdown.started:
            return
        latest: dict[str, Session] = {}
        for s in self.hub.sessions:
            if s.client_id is None or s.closing:
                continue
            seen = latest.get(s.user)
            if seen is None or s.presence_at >= seen.presence_at:
                latest[s.user] = s
        users = [
            {"user": s.user, "role": s.role.value, "viewing": s.viewing, "editing": s.editing}
            for s in sorted(latest.values(), key=lambda s: s.user)
        ]
        self.hub.send_all(dumps({"type": "presence", "users": users}))
