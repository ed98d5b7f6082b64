"""An in-memory index of the optimistic view for the TUI's filters and sort orders.

Queries answer a list of ids in order (the table renders rows from them), within a few
milliseconds at 100,000 requests: status and priority filters are set lookups, free text is a
substring test on one pre-folded string per row, and each sort order is a list of
``(key, id)`` kept sorted by ``bisect`` as rows change (rebuilt whole after a large catch-up).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping
from itertools import compress
from typing import Any

from protocol import PRIORITY_RANK, Priority, Request, Status

STATUS_ORDER: dict[Status, int] = {s: i for i, s in enumerate(Status)}


def _room_key(room: str) -> tuple[int, int, str]:
    """Rooms sort as people read them: 817 before 1204."""
    return (0, int(room), room) if room.isdigit() else (1, 0, room.casefold())


def _text(value: str | None) -> tuple[bool, str]:
    return (value is None, (value or "").casefold())


SORT_KEYS: dict[str, Callable[[Request], Any]] = {
    "number": lambda r: (r.number is None, r.number or 0),
    "room": lambda r: _room_key(r.room),
    "category": lambda r: r.category.value,
    "priority": lambda r: PRIORITY_RANK[r.priority],
    "status": lambda r: STATUS_ORDER[r.status],
    "assignee": lambda r: _text(r.assignee),
    "created_at": lambda r: r.created_at.timestamp(),
    "age": lambda r: -r.created_at.timestamp(),
    "updated_at": lambda r: r.updated_at.timestamp(),
    "due_at": lambda r: r.due_at.timestamp(),
    "description": lambda r: r.description.casefold(),
    "guest_name": lambda r: _text(r.guest_name),
    "created_by": lambda r: r.created_by.casefold(),
}
"""Sort orders the index keeps; ties break on the id, so an order is total and stable."""


def haystack(row: Request) -> str:
    """The text free-text filtering searches in, folded once per row version."""
    parts = [
        str(row.number) if row.number is not None else "",
        row.room,
        row.category.value,
        row.priority.value,
        row.status.value,
        row.description,
        row.guest_name or "",
        row.assignee or "",
        row.created_by,
    ]
    return "\x00".join(parts).casefold()


STATUS_CODE: dict[Status, int] = {s: i for i, s in enumerate(Status)}
PRIORITY_CODE: dict[Priority, int] = {p: i for i, p in enumerate(Priority)}


def _table(codes: Iterable[int]) -> bytes:
    """A ``bytes.translate`` table turning the wanted codes into 1 and the rest into 0."""
    table = bytearray(256)
    for code in codes:
        table[code] = 1
    return bytes(table)


def _and(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    return (int.from_bytes(a, "little") & int.from_bytes(b, "little")).to_bytes(len(a), "little")


class _Order:
    """One sort order: ``items`` sorted, and aligned with it the ids and status/priority codes.

    The aligned byte arrays let a status or priority filter run in C: ``translate`` makes a
    0/1 mask, ``itertools.compress`` picks the ids, no Python loop over the rows.
    """

    def __init__(
        self,
        key: Callable[[Request], Any],
        rows: Mapping[str, Request],
        status_of: dict[str, int],
        priority_of: dict[str, int],
    ) -> None:
        self.key = key
        self.status_of = status_of
        self.priority_of = priority_of
        self.keys: dict[str, Any] = {}
        self.items: list[tuple[Any, str]] = []
        self.ids: list[str] = []
        self.statuses = bytearray()
        self.priorities = bytearray()
        self.dirty: dict[str, Request | None] = {}
        self.rebuild(rows)

    def rebuild(self, rows: Mapping[str, Request]) -> None:
        self.dirty = {}
        key = self.key
        self.keys = {rid: key(row) for rid, row in rows.items()}
        self.items = sorted((k, rid) for rid, k in self.keys.items())
        self.ids = [rid for _, rid in self.items]
        self._codes()

    def _codes(self) -> None:
        self.statuses = bytearray(map(self.status_of.__getitem__, self.ids))
        self.priorities = bytearray(map(self.priority_of.__getitem__, self.ids))

    def changed(self, rid: str, row: Request | None) -> None:
        """Note a change; applied at the next ``flush`` (bursts are sorted in once)."""
        self.dirty[rid] = row

    def flush(self, rows: Mapping[str, Request]) -> None:
        dirty, self.dirty = self.dirty, {}
        if not dirty:
            return
        if len(dirty) <= 256:
            for rid, row in dirty.items():
                self._move(rid, row)
            return
        if len(dirty) * 5 > len(rows):
            self.rebuild(rows)
            return
        # Many changes: drop them in one pass, then let Timsort merge the sorted runs.
        for rid in dirty:
            self.keys.pop(rid, None)
        kept = [item for item in self.items if item[1] not in dirty]
        key = self.key
        fresh = []
        for rid, row in dirty.items():
            if row is not None:
                k = key(row)
                self.keys[rid] = k
                fresh.append((k, rid))
        kept.extend(fresh)
        kept.sort()
        self.items = kept
        self.ids = [rid for _, rid in kept]
        self._codes()

    def _move(self, rid: str, row: Request | None) -> None:
        old = self.keys.pop(rid, None)
        if old is not None:
            at = bisect_left(self.items, (old, rid))
            if at < len(self.items) and self.items[at] == (old, rid):
                del self.items[at]
                del self.ids[at]
                del self.statuses[at]
                del self.priorities[at]
        if row is not None:
            new = self.key(row)
            self.keys[rid] = new
            at = bisect_left(self.items, (new, rid))
            self.items.insert(at, (new, rid))
            self.ids.insert(at, rid)
            self.statuses.insert(at, self.status_of[rid])
            self.priorities.insert(at, self.priority_of[rid])


class ViewIndex:
    """Filters and sort orders over a ``dict`` of rows, updated by the ids that changed."""

    def __init__(self, rows: Mapping[str, Request]) -> None:
        self._rows = rows
        self._hay: dict[str, str] = {}
        self._by_status: dict[Status, set[str]] = {s: set() for s in Status}
        self._by_priority: dict[Priority, set[str]] = {p: set() for p in Priority}
        self._seen: dict[str, Request] = {}
        self._orders: dict[str, _Order] = {}
        self._words: dict[str, set[str]] = {}
        self._status_of: dict[str, int] = {}
        self._priority_of: dict[str, int] = {}
        """Ids matching a free-text word, for the last few words (cleared on any change)."""
        self.update(list(rows))

    def update(self, ids: Iterable[str]) -> None:
        """Re-index ``ids`` (rows changed, appeared or disappeared)."""
        ids = list(ids)
        if ids:
            self._words.clear()
        for rid in ids:
            row = self._rows.get(rid)
            old = self._seen.get(rid)
            if row is old:
                continue
            if old is not None:
                self._by_status[old.status].discard(rid)
                self._by_priority[old.priority].discard(rid)
            if row is None:
                self._seen.pop(rid, None)
                self._hay.pop(rid, None)
                self._status_of.pop(rid, None)
                self._priority_of.pop(rid, None)
            else:
                self._seen[rid] = row
                self._hay[rid] = haystack(row)
                self._status_of[rid] = STATUS_CODE[row.status]
                self._priority_of[rid] = PRIORITY_CODE[row.priority]
                self._by_status[row.status].add(rid)
                self._by_priority[row.priority].add(rid)
            for order in self._orders.values():
                order.changed(rid, row)

    def query(
        self,
        filter_text: str = "",
        statuses: Collection[str] | None = None,
        priorities: Collection[str] | None = None,
        sort_key: str = "number",
        descending: bool = False,
        *,
        categories: Collection[str] | None = None,
        assignee: str | None = None,
        room: str | None = None,
    ) -> list[str]:
        """Ids of the rows that match every given filter, in ``sort_key`` order."""
        if sort_key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort_key!r} (one of {', '.join(SORT_KEYS)})")
        order = self._orders.get(sort_key)
        if order is None:
            order = self._orders[sort_key] = _Order(
                SORT_KEYS[sort_key], self._seen, self._status_of, self._priority_of
            )
        order.flush(self._seen)
        mask: bytes | bytearray | None = None
        if statuses:
            mask = order.statuses.translate(_table(STATUS_CODE[Status(x)] for x in statuses))
        if priorities:
            more = order.priorities.translate(
                _table(PRIORITY_CODE[Priority(x)] for x in priorities)
            )
            mask = more if mask is None else _and(mask, more)
        sets: list[set[str]] = []
        rows = self._seen
        if categories or assignee is not None or room:
            wanted = {str(c) for c in categories} if categories else None
            who = (assignee or None) if assignee is not None else None
            sets.append(
                {
                    rid
                    for rid, row in rows.items()
                    if (wanted is None or row.category.value in wanted)
                    and (assignee is None or row.assignee == who)
                    and (not room or row.room == room)
                }
            )
        for word in dict.fromkeys(filter_text.casefold().split()):
            sets.append(self._matching(word))
        if sets:
            sets.sort(key=len)
            allowed = sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]
            if len(allowed) * 8 < len(order.ids):
                # Few matches: sort them by key rather than scan the whole order.
                keys = order.keys
                picked = sorted((keys[rid], rid) for rid in allowed)
                ids = [rid for _, rid in picked]
                if statuses:
                    codes = {STATUS_CODE[Status(x)] for x in statuses}
                    status_of = self._status_of
                    ids = [rid for rid in ids if status_of[rid] in codes]
                if priorities:
                    codes = {PRIORITY_CODE[Priority(x)] for x in priorities}
                    priority_of = self._priority_of
                    ids = [rid for rid in ids if priority_of[rid] in codes]
            else:
                base = compress(order.ids, mask) if mask is not None else order.ids
                ids = list(filter(allowed.__contains__, base))
        elif mask is not None:
            ids = list(compress(order.ids, mask))
        else:
            ids = list(order.ids)
        if descending:
            ids.reverse()
        return ids

    def _matching(self, word: str) -> set[str]:
        """Ids whose text contains ``word``; typing a longer word searches the last matches."""
        cached = self._words.get(word)
        if cached is not None:
            return cached
        hay = self._hay
        within: Iterable[str] = hay
        narrowest: set[str] | None = None
        for seen_word, seen in self._words.items():
            if seen_word in word and (narrowest is None or len(seen) < len(narrowest)):
                within = narrowest = seen
        found = {rid for rid in within if word in hay[rid]}
        if len(self._words) >= 32:
            self._words.pop(next(iter(self._words)))
        self._words[word] = found
        return found
