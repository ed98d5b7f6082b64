"""Open requests by room, and the one a new description most likely repeats.

Two clerks logging the same towels for 1204 send two housekeepers. Before a request is saved,
the open requests of its room (a handful, even at 100,000 rows) are compared with what is being
typed. The comparison is on the words that carry the request ("towels", "leak", "sink"), not
on filler ("please", "guest", "extra"), with rapidfuzz's ``token_set_ratio``: word order does
not matter, a typo costs a little, and a description whose words are all in the other one
("towels" against "2 more towels for the kids") counts as the same.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from offline.triage.words import words
from protocol import Request

SIMILAR = 80.0
"""``token_set_ratio`` (on the words that carry the request) from which two descriptions name
the same thing: "more towels" against "towels x2" scores 100, "towls" against "towels" 91,
"extra pillows" against "extra towels" 46."""
MIN_LETTERS = 4
"""Fewer letters of content than this say too little to call anything a duplicate."""
_FILLER_WORDS = """
    the a an and or to of in on for at is it be by with from please pls plz guest guests room
    rooms want wants wanted need needs asks ask asked would like can could some more extra
    another again his her their this that there no not still
"""
FILLER = frozenset(_FILLER_WORDS.split())
"""Words that say nothing about what is needed (also "no"/"not": "no hot water" and "hot water"
are the same problem)."""


def gist(text: str) -> str:
    """The words of ``text`` that carry the request, folded, in order."""
    return " ".join(w for w in words(text) if w not in FILLER)


def room_key(room: str) -> str:
    """Rooms compare as typed, minus spaces and case ("12a" is "12A")."""
    return room.strip().casefold()


class OpenRequests:
    """The open requests of each room, kept current one row at a time."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, tuple[Request, str]]] = {}
        self._room_of: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._room_of)

    def update(self, request_id: str, row: Request | None) -> None:
        """Follow one row: indexed while open, dropped once closed or gone."""
        old_room = self._room_of.pop(request_id, None)
        if old_room is not None:
            rows = self._rooms[old_room]
            rows.pop(request_id, None)
            if not rows:
                del self._rooms[old_room]
        if row is not None and row.is_open:
            room = room_key(row.room)
            self._room_of[request_id] = room
            self._rooms.setdefault(room, {})[request_id] = (row, gist(row.description))

    def similar(self, room: str, description: str) -> Request | None:
        """The open request of ``room`` whose description is most like ``description``, if
        any is like it enough (ties: the oldest, the one everyone has been waiting on)."""
        rows = self._rooms.get(room_key(room))
        if not rows:
            return None
        typed = gist(description)
        if sum(len(w) for w in typed.split()) < MIN_LETTERS:
            return None
        best: tuple[float, float, Request] | None = None
        for row, theirs in rows.values():
            score = fuzz.token_set_ratio(typed, theirs, score_cutoff=SIMILAR)
            if not score:
                continue
            key = (score, -row.created_at.timestamp(), row)
            if best is None or key[:2] > best[:2]:
                best = key
        return best[2] if best is not None else None
