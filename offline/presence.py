"""Presence: what this terminal's user is looking at, and who else is online doing what.

Out: the TUI says what the user views and whether they edit (``Engine.set_presence``); a
``presence`` frame carries it to the server while a connection is up, and again on every new
connection (the server forgets a closed connection's presence). Changes made while offline are
only remembered. Rapid changes (paging through requests) are coalesced: at most one frame per
``MIN_INTERVAL``, always the latest state, never a repeat of what the server already has, so the
server's chatter limit (10/s, burst 50) is never approached.

In: the server's ``presence`` frame (the whole list, one entry per user online) replaces what
we knew and is announced with ``PresenceChanged``. When the connection drops the list is
emptied: an offline terminal cannot know who is online.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from offline.events import PresenceChanged, PresenceEntry
from protocol.codec import presence_text
from protocol.frames import Presence

MIN_INTERVAL = 0.1
"""Seconds between two ``presence`` frames at most; changes in between are merged."""


class PresenceLink:
    """Our presence out, everyone's in; one per engine, across connections."""

    def __init__(self, emit: Callable[[PresenceChanged], None]) -> None:
        self._emit = emit
        self.mine: tuple[str | None, bool] = (None, False)
        """What this user views and whether they edit, as last told by the TUI."""
        self.users: tuple[PresenceEntry, ...] = ()
        self._changed = asyncio.Event()

    def set(self, viewing: str | None, editing: bool) -> None:
        """Remember the new state; the connection's sender sends it (coalesced)."""
        mine = (viewing or None, bool(editing))
        if mine != self.mine:
            self.mine = mine
            self._changed.set()

    def received(self, frame: Presence) -> None:
        users = tuple(PresenceEntry(u.user, u.role, u.viewing, u.editing) for u in frame.users)
        self._replace(users)

    def _replace(self, users: tuple[PresenceEntry, ...]) -> None:
        if users != self.users:
            self.users = users
            self._emit(PresenceChanged(users))

    async def run(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send our presence over one connection until it is cancelled (the connection ended).

        A fresh connection starts as "viewing nothing, not editing" on the server, so only a
        different state is sent. When the task ends the users list is emptied.
        """
        sent: tuple[str | None, bool] = (None, False)
        try:
            while True:
                if self.mine == sent:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                sent = self.mine
                await send(presence_text(*sent))
                # Changes made during the pause go out after it as one frame.
                await asyncio.sleep(MIN_INTERVAL)
        finally:
            self._replace(())
