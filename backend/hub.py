"""The fan-out hub: who is connected, who listens to what, and sending without waiting.

Every frame is serialized once by its producer and handed here as a string; ``websockets.broadcast``
then writes it to each recipient without awaiting, so one slow client never delays the others.
A client whose write buffer grows past ``send_buffer_max`` is closed with 1013 and recovers
through catch-up when it reconnects. The write buffer and the one-write batch come from
``backend/websockets_adapter.py``, the only module that touches websockets' internals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.protocol import State

from backend.websockets_adapter import abort, send_batch, write_backlog
from protocol.frames import CloseCode
from protocol.models import Request

if TYPE_CHECKING:
    from backend.session import Session

log = logging.getLogger("frontdesk.hub")


class Peer(Protocol):
    """What the hub needs of a recipient: a connection (None for the server's own actor)."""

    closing: bool
    close_reason: str | None

    @property
    def ws(self) -> ServerConnection | None: ...

    @property
    def user(self) -> str: ...


class Hub:
    """Sessions by state, and the channel indexes used to pick the recipients of a change."""

    def __init__(self, send_buffer_max: int, close_timeout: float = 3.0) -> None:
        self.send_buffer_max = send_buffer_max
        self.close_timeout = close_timeout
        self.sessions: set[Session] = set()
        """Every authenticated connection (presence, per-user limits, token checks)."""
        self.catching_up: set[Session] = set()
        """Sessions past ``hello`` still reading the log: live changes are buffered for them."""
        self.everything: set[Session] = set()
        """Live sessions subscribed to ``all``."""
        self.selective: set[Session] = set()
        """Live sessions with narrower channels (``urgent``, ``room:…``, ``assignee:…``)."""
        self.urgent: set[Session] = set()
        self.by_room: dict[str, set[Session]] = {}
        self.by_assignee: dict[str, set[Session]] = {}
        """The selective sessions indexed by channel: picking a change's recipients costs a few
        lookups instead of asking every selective session (which was most of the fan-out's
        CPU with many ``room:…`` listeners)."""
        self._indexed: dict[Session, frozenset[str]] = {}
        """The channels each selective session is indexed under (they may change meanwhile)."""
        self._closing: set[asyncio.Task[None]] = set()

    # -- membership --------------------------------------------------------------------------

    def add(self, session: Session) -> None:
        self.sessions.add(session)

    def begin_catch_up(self, session: Session) -> None:
        """From now on, changes are buffered for ``session`` (before it reads the log)."""
        self.catching_up.add(session)

    def go_live(self, session: Session) -> None:
        """Catch-up is done: changes are sent to ``session`` directly."""
        self.catching_up.discard(session)
        session.live = True
        self.resubscribe(session)

    def resubscribe(self, session: Session) -> None:
        """Put a live session into the index matching its channels."""
        if not session.live:
            return
        self._unindex(session)
        if "all" in session.channels:
            self.selective.discard(session)
            self.everything.add(session)
        else:
            self.everything.discard(session)
            self.selective.add(session)
            self._indexed[session] = session.channels
            for channel in session.channels:
                if channel == "urgent":
                    self.urgent.add(session)
                elif channel.startswith("room:"):
                    self.by_room.setdefault(channel[5:], set()).add(session)
                elif channel.startswith("assignee:"):
                    self.by_assignee.setdefault(channel[9:], set()).add(session)

    def _unindex(self, session: Session) -> None:
        channels = self._indexed.pop(session, None)
        if channels is None:
            return
        self.urgent.discard(session)
        for channel in channels:
            if channel.startswith("room:"):
                index, key = self.by_room, channel[5:]
            elif channel.startswith("assignee:"):
                index, key = self.by_assignee, channel[9:]
            else:
                continue
            members = index.get(key)
            if members is not None:
                members.discard(session)
                if not members:
                    del index[key]

    def remove(self, session: Session) -> None:
        self.sessions.discard(session)
        self.catching_up.discard(session)
        self.everything.discard(session)
        self._unindex(session)
        self.selective.discard(session)

    # -- sending -----------------------------------------------------------------------------

    def send(self, sessions: Iterable[Peer], text: str) -> None:
        """Write ``text`` to each open session without waiting; close the ones far behind."""
        ready = []
        limit = self.send_buffer_max
        for session in sessions:
            ws = session.ws
            if ws is None or ws.state is not State.OPEN:
                continue
            if write_backlog(ws) > limit:
                self.close(session, CloseCode.TRY_AGAIN_LATER, "too slow: reconnect to catch up")
                continue
            ready.append(ws)
        if ready:
            broadcast(ready, text)

    def deliver(self, frames: Mapping[Peer, list[bytes]]) -> None:
        """Write each session's frames (UTF-8 JSON text) and flush once per session.

        One socket write per connection per batch instead of one per frame; each frame was
        serialized and encoded once, whoever receives it.
        """
        limit = self.send_buffer_max
        for session, datas in frames.items():
            ws = session.ws
            if ws is None or ws.state is not State.OPEN:
                continue
            if write_backlog(ws) > limit:
                self.close(session, CloseCode.TRY_AGAIN_LATER, "too slow: reconnect to catch up")
                continue
            try:
                send_batch(ws, datas)
            except Exception as exc:  # the connection broke meanwhile: its handler cleans up
                log.debug("write to user=%s failed: %s", session.user, exc)

    def change_recipients(self, row: Request, old: Request | None) -> Iterable[Session]:
        """Live sessions whose channels match a change of ``row`` (from ``old``)."""
        if not self.selective:
            return self.everything
        picked: set[Session] = set()
        rooms, assignees = self.by_room, self.by_assignee
        for r in (row, old):
            if r is None:
                continue
            if rooms and (members := rooms.get(r.room)):
                picked.update(members)
            if assignees and r.assignee is not None and (members := assignees.get(r.assignee)):
                picked.update(members)
            if r.priority == "urgent" and self.urgent:
                picked.update(self.urgent)
        if not picked:
            return self.everything
        return [*self.everything, *picked]

    def alert_recipients(self) -> Iterable[Session]:
        """Live sessions subscribed to ``all`` or ``urgent``."""
        if not self.selective:
            return self.everything
        return [*self.everything, *self.urgent] if self.urgent else self.everything

    def close(self, session: Peer, code: int, reason: str) -> None:
        """Close a session in the background (the caller never waits for a slow peer)."""
        if session.closing or session.ws is None:
            return
        session.closing = True
        session.close_reason = reason
        task = asyncio.get_running_loop().create_task(
            _close(session.ws, code, reason, self.close_timeout)
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def publish_alert(self, text: str) -> None:
        """Send an ``alert`` to every live session subscribed to ``all`` or ``urgent``."""
        self.send(self.alert_recipients(), text)

    def send_all(self, text: str) -> None:
        """Send a frame to every session past ``hello`` (presence)."""
        self.send([s for s in self.sessions if s.client_id is not None], text)

    def limit_connections(self, user: str, most: int) -> None:
        """Make room for one more connection of ``user``: past ``most``, the oldest ones are
        closed (4429)."""
        mine = sorted(
            (s for s in self.sessions if s.user == user and not s.closing),
            key=lambda s: s.opened_at,
        )
        excess = len(mine) + 1 - most
        for session in mine[: max(0, excess)]:
            self.close(
                session, CloseCode.TOO_MANY_CONNECTIONS, "too many connections; this was the oldest"
            )


async def _close(ws: ServerConnection, code: int, reason: str, wait: float) -> None:
    """Close politely; a peer that does not read (so even the close frame is stuck) is dropped."""
    try:
        await asyncio.wait_for(ws.close(code, reason), wait)
    except Exception:
        abort(ws)
