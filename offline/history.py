"""Requests older than the replica keeps: found on the server, and let go of locally.

A terminal's replica holds the working set: open requests and those closed within
``EngineConfig.window_days`` (14 by default; the server's snapshot sends the same). Closed
requests older than that are evicted now and then, off the UI path (``evictable`` picks them,
the engine deletes them in one statement and drops them from the view). Looking one up again
(by room, ticket number or guest name) asks ``/api/v1/requests``; a found row joins the replica
like any row the server sends, so it can be edited, and stays until it ages out again.

Offline, the server cannot be asked: the lookup answers from the replica and says in words
that older requests may be missing (``Lookup.note``) instead of showing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from protocol import Request

EVICT_EVERY_SECONDS = 3600.0
"""How often the engine lets go of rows that aged out of the window (and once at start)."""
LOOKUP_LIMIT = 100


def outside_window_note(days: float) -> str:
    """What an offline lookup says about the requests it cannot see."""
    return (
        f"requests closed more than {days:g} days ago are on the server; reconnect to look them up"
    )


@dataclass(frozen=True)
class Lookup:
    """The answer of ``Engine.lookup``: matching rows, newest ticket first."""

    rows: list[Request]
    complete: bool
    """True when the server answered; False when only the replica was searched."""
    note: str | None = None
    """Said beside the rows when ``complete`` is False (why older ones may be missing)."""
    more: bool = False
    """The server has more matches than ``rows`` holds."""
    server_ids: list[str] = field(default_factory=list)


def matches(row: Request, room: str | None, number: int | None, guest: str | None) -> bool:
    """The replica's side of a lookup: the same filters the server applies."""
    if room is not None and row.room != room:
        return False
    if number is not None and row.number != number:
        return False
    if guest:
        key = " ".join(guest.casefold().split())
        name = " ".join((row.guest_name or "").casefold().split())
        if not name.startswith(key):
            return False
    return True


def evictable(
    rows: Iterable[Request], now: datetime, days: float, pending: Callable[[str], bool]
) -> list[str]:
    """Ids of closed rows last changed more than ``days`` ago, with nothing pending on them."""
    cutoff = now - timedelta(days=days)
    return [
        row.id
        for row in rows
        if not row.is_open and row.updated_at < cutoff and not pending(row.id)
    ]
