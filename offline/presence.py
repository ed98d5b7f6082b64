"""Presence: what this terminal's user is looking at, and who else is online doing what.

Out: the TUI says what the user views and whether they edit (``Engine.set_presence``); a
``presence`` frame carries it to the server while a connection is up, and again on every new
connection (the server forgets a closed connection's presence). Changes made while offline are
only remembered. Rapid changes (paging through requests) are coalesced: at most one frame per
``MIN_INTERVAL``, always the latest state, never a repeat of what the server already has, so the
server's chatter limit (10/s, burst 50) is never approached.

The same frame reports this terminal's outbox age (``outbox_age``: how long the oldest queued
mutation has waited) every ``OUTBOX_REPORT_SECONDS`` while something is queued, and once more
(null) when the queue has drained, so the server can judge whether terminals are being heard.

In: the server's ``presence`` frame (the whole list, one entry per user online) replaces what
we knew and is announced with ``PresenceChanged``. When the connection drops the list is
emptied: an offline terminal cannot know who is online.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from offline.events import PresenceChanged, PresenceEntry
from protocol.codec import presence_text
from protocol.frames import Presence

MIN_INTERVAL = 0.1
"""Seconds between two ``presence`` frames at most; changes in between are merged."""
OUTBOX_REPORT_SECONDS = 30.0
"""While mutations are queued, their age is reported this often."""
OUTBOX_CHECK_SECONDS = 5.0
"""How often an idle link looks at the outbox (a drained queue is reported within this)."""


class PresenceLink:
    """Our presence out, everyone's in; one per engine, across connections."""

    def __init__(
        self,
        emit: Callable[[PresenceChanged], None],
        outbox_age: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._emit = emit
        self._outbox_age = outbox_age
        """Seconds the oldest queued mutation has waited (None: nothing queued)."""
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
        different state is sent, or the outbox's age when something is queued. When the task
        ends the users list is emptied.
        """
        loop = asyncio.get_running_loop()
        sent: tuple[str | None, bool] = (None, False)
        reported = False
        last_report = float("-inf")
        try:
            while True:
                age = self._outbox_age()
                report = (
                    age is not None and loop.time() - last_report >= OUTBOX_REPORT_SECONDS
                ) or (age is None and reported)
                if self.mine == sent and not report:
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), OUTBOX_CHECK_SECONDS)
                    continue
                sent = self.mine
                await send(presence_text(*sent, age))
                reported, last_report = age is not None, loop.time()
                # Changes made during the pause go out after it as one frame.
                await asyncio.sleep(MIN_INTERVAL)
        finally:
            self._replace(())
