"""What the queue shows: the requests, filtered, in order, as a list of ids.

The table never holds widgets per row; it holds this model's id list and asks for one request
at a time when a line is drawn. Filtering and sorting only change the id list, and a live change
to a few requests moves only those few (bisect on precomputed sort keys), so 100,000 rows stay
responsive.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from operator import contains, itemgetter
from typing import Any, overload

from offline.rows import settle_heap
from protocol.models import PRIORITY_RANK, Priority, Request, Status, utcnow

Predicate = Callable[[Request, datetime, str], bool]

SortKey = tuple[Any, ...]
"""A row's place in the sorted queue: the sort column's values, then the request id last."""


@dataclass(frozen=True)
class QuickView:
    """A named, saved filter (k9s-style views reachable with ``:`` and the palette)."""

    name: str
    title: str
    predicate: Predicate
    time_dependent: bool = False
    """True when a request may enter or leave the view just because time passes (overdue)."""


def _local_day_start(now: datetime) -> datetime:
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


QUICK_VIEWS: dict[str, QuickView] = {
    v.name: v
    for v in (
        QuickView("all", "All requests", lambda r, now, user: True),
        QuickView(
            "mine",
            "My requests",
            lambda r, now, user: r.assignee == user or (r.created_by == user and r.is_open),
        ),
        QuickView("open", "Open", lambda r, now, user: r.is_open),
        QuickView(
            "urgent",
            "Urgent & overdue",
            lambda r, now, user: (r.priority == Priority.URGENT and r.is_open) or r.is_overdue(now),
            time_dependent=True,
        ),
        QuickView(
            "completed_today",
            "Completed today",
            lambda r, now, user: (
                r.status == Status.COMPLETED
                and r.completed_at is not None
                and r.completed_at >= _local_day_start(now)
            ),
            time_dependent=True,
        ),
        QuickView(
            "night",
            "Night manager",
            lambda r, now, user: (
                (r.priority in (Priority.URGENT, Priority.HIGH) and r.is_open) or r.is_overdue(now)
            ),
            time_dependent=True,
        ),
    )
}

BULK_UPSERT = 64
"""Changes at once above which ``upsert`` merges instead of moving rows one by one."""

_STATUS_RANK = {s: i for i, s in enumerate(Status)}
_FAR = float("inf")
"""Closed requests sort after every deadline."""


def _text(value: str | None) -> str:
    return (value or "").casefold()


SORT_KEYS: dict[str, Callable[[Request], Any]] = {
    "number": lambda r: r.number if r.number is not None else 1 << 62,
    "room": lambda r: _text(r.room),
    "category": lambda r: r.category.value,
    "priority": lambda r: PRIORITY_RANK[r.priority],
    "status": lambda r: _STATUS_RANK[r.status],
    "assignee": lambda r: _text(r.assignee),
    "sla": lambda r: r.due_at.timestamp() if r.is_open else _FAR,
    "created": lambda r: r.created_at.timestamp(),
    "description": lambda r: _text(r.description),
}
"""Sortable columns. Times are POSIX floats: comparing floats sorts 100,000 keys several times
faster than comparing aware datetimes. Each full key ends with the creation time and the id, so
ties are stable (sorted by creation time, the key is just that time and the id)."""


def search_text(request: Request) -> str:
    """What ``/`` matches against: room, description, guest and assignee, case-folded."""
    parts = (request.room, request.description, request.guest_name or "", request.assignee or "")
    number = f"#{request.number}" if request.number is not None else ""
    return "\x00".join((*parts, number)).casefold()


class IdList(Sequence[str]):
    """The visible ids in display order, read straight from the model's sorted keys."""

    def __init__(self, keys: list[SortKey], descending: bool) -> None:
        self._keys = keys
        self._descending = descending

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self._keys)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        request_id: str = self._keys[n - 1 - index if self._descending else index][-1]
        return request_id


class QueueModel:
    """All known requests plus the current view (quick view, ``/`` query, sort)."""

    def __init__(self, user: str = "", clock: Callable[[], datetime] = utcnow) -> None:
        self.user = user
        self.clock = clock
        """The time SLA views are judged by (the engine's estimate of the server's clock)."""
        self.requests: dict[str, Request] = {}
        self.view: QuickView = QUICK_VIEWS["all"]
        self.query = ""
        self.sort_column = "created"
        self.descending = True
        self.top_number = 0
        """The highest ticket number seen (0: none yet): the ``#`` column is sized for it."""
        self.pinned: set[str] = set()
        """Ids shown even when the filter no longer matches: the row an action just touched."""
        self._in_view: set[str] | None = None
        """Ids the quick view admits (None: the view admits everything)."""
        self._sorted: list[SortKey] = []
        """The sort key of every request, sorted. No id → key or id → text map is kept (at
        100,000 rows each costs ~4 MiB): a key is remade from the request it was made from."""
        self._sorted_text: list[str] = []
        """Search text of each key in ``_sorted`` (parallel lists: filtering stays in C)."""
        self._visible: list[SortKey] = []
        self._visible_text: list[str] = []
        self._now = self.clock()

    # -- reading -----------------------------------------------------------------------------

    @property
    def ids(self) -> IdList:
        """The visible ids, in display order."""
        return IdList(self._visible, self.descending)

    def __len__(self) -> int:
        return len(self._visible)

    def get(self, request_id: str) -> Request | None:
        return self.requests.get(request_id)

    def position(self, request_id: str) -> int | None:
        """Display index of ``request_id``, or None when it is not visible."""
        key = self._key_of(request_id)
        if key is None:
            return None
        i = bisect.bisect_left(self._visible, key)
        if i < len(self._visible) and self._visible[i] == key:
            return len(self._visible) - 1 - i if self.descending else i
        return None

    # -- changing the data -------------------------------------------------------------------

    def replace_all(self, requests: Iterable[Request]) -> None:
        """Load a full set of requests (first paint, or after a big catch-up)."""
        self.requests = {r.id: r for r in requests}
        self.top_number = max((r.number or 0 for r in self.requests.values()), default=0)
        self._compute_view()
        self._sorted = sorted(map(self._make_key, self.requests.values()))
        # Texts made in display order lie next to each other in memory: a filter keystroke
        # scans 100,000 of them about twice as fast as texts made in arrival order.
        requests_by_id = self.requests
        self._sorted_text = [search_text(requests_by_id[k[-1]]) for k in self._sorted]
        self._refilter()
        settle_heap()  # 100,000 keys and texts: full GC runs would rescan them on every pause

    def upsert(self, changed: Iterable[Request], removed: Iterable[str] = ()) -> None:
        """Apply live changes: a few move by bisect, a burst is merged in one pass."""
        changed, removed = list(changed), list(removed)
        if len(changed) + len(removed) > BULK_UPSERT:
            self._upsert_many(changed, removed)
            return
        for rid in removed:
            self._drop(rid)
            self.requests.pop(rid, None)
            if self._in_view is not None:
                self._in_view.discard(rid)
        for request in changed:
            rid = request.id
            self._drop(rid)
            self.requests[rid] = request
            self._saw_number(request)
            text = search_text(request)
            if self._in_view is not None:
                if self.view.predicate(request, self._now, self.user):
                    self._in_view.add(rid)
                else:
                    self._in_view.discard(rid)
            key = self._make_key(request)
            _insert(self._sorted, self._sorted_text, key, text)
            if self._matches(rid):
                _insert(self._visible, self._visible_text, key, text)

    def _upsert_many(self, changed: list[Request], removed: list[str]) -> None:
        """A burst (a catch-up page): each bisect insert or delete moves up to 100,000 list
        slots, so the burst's keys are merged instead: the old keys minus the burst's, plus
        the new ones sorted, then one ``sort`` that merges the two sorted runs in linear time.
        The keys of the other rows are kept (not recomputed as ``replace_all`` would)."""
        gone = set(removed)
        gone.update(r.id for r in changed)
        text_of = self._texts_by_id()  # for this pass only
        for rid in removed:
            self.requests.pop(rid, None)
            if self._in_view is not None:
                self._in_view.discard(rid)
        keys = [k for k in self._sorted if k[-1] not in gone]
        fresh: list[SortKey] = []
        for request in changed:
            rid = request.id
            self.requests[rid] = request
            self._saw_number(request)
            text_of[rid] = search_text(request)
            if self._in_view is not None:
                if self.view.predicate(request, self._now, self.user):
                    self._in_view.add(rid)
                else:
                    self._in_view.discard(rid)
            fresh.append(self._make_key(request))
        fresh.sort()
        keys.extend(fresh)
        keys.sort()
        self._sorted = keys
        self._sorted_text = list(map(text_of.__getitem__, map(itemgetter(-1), keys)))
        self._refilter()

    def _saw_number(self, request: Request) -> None:
        if request.number is not None and request.number > self.top_number:
            self.top_number = request.number

    def _drop(self, request_id: str) -> None:
        """Take ``request_id`` out of the sorted lists (before its stored request changes)."""
        key = self._key_of(request_id)
        if key is None:
            return
        _remove(self._sorted, self._sorted_text, key)
        _remove(self._visible, self._visible_text, key)

    # -- changing the view -------------------------------------------------------------------

    def set_query(self, query: str) -> None:
        """Filter as you type; a longer query only narrows the current rows."""
        old, self.query = self.query, query.casefold()
        self.pinned.clear()
        if old and self.query.startswith(old):
            self._visible, self._visible_text = _containing(
                self._visible, self._visible_text, self.query
            )
        else:
            self._refilter()

    def set_view(self, name: str) -> None:
        self.view = QUICK_VIEWS[name]
        self.pinned.clear()
        self._compute_view()
        self._refilter()

    def set_sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column``; choosing the current column again flips the order."""
        if descending is None:
            descending = not self.descending if column == self.sort_column else False
        self.sort_column = column
        self.descending = descending
        self._rebuild_keys()

    def tick(self) -> bool:
        """Re-evaluate time-dependent views; True when the visible rows changed."""
        self._now = self.clock()
        if not self.view.time_dependent:
            return False
        before = self._visible
        self._compute_view()
        self._refilter()
        return before != self._visible

    # -- internals ---------------------------------------------------------------------------

    def _make_key(self, request: Request) -> SortKey:
        created = request.created_at.timestamp()
        if self.sort_column == "created":
            return (created, request.id)
        return (SORT_KEYS[self.sort_column](request), created, request.id)

    def _key_of(self, request_id: str) -> SortKey | None:
        """The key ``request_id`` is filed under (made from the request as stored)."""
        request = self.requests.get(request_id)
        return None if request is None else self._make_key(request)

    def _texts_by_id(self) -> dict[str, str]:
        """Id → search text, from the sorted lists (a temporary map for a whole-list pass)."""
        return dict(zip(map(itemgetter(-1), self._sorted), self._sorted_text, strict=True))

    def _rebuild_keys(self) -> None:
        text_of = self._texts_by_id()
        self._sorted = sorted(map(self._make_key, self.requests.values()))
        self._sorted_text = list(map(text_of.__getitem__, map(itemgetter(-1), self._sorted)))
        self._refilter()

    def _compute_view(self) -> None:
        self._now = self.clock()
        if self.view.name == "all":
            self._in_view = None
            return
        now, user, predicate = self._now, self.user, self.view.predicate
        self._in_view = {rid for rid, r in self.requests.items() if predicate(r, now, user)}

    def _matches(self, request_id: str) -> bool:
        if request_id in self.pinned:
            return True
        if self.query and self.query not in search_text(self.requests[request_id]):
            return False
        return self._in_view is None or request_id in self._in_view

    def _refilter(self) -> None:
        """Recompute the visible keys in C-speed passes (compress/map), no Python per row."""
        keys, texts = self._sorted, self._sorted_text
        if self.query:
            keys, texts = _containing(keys, texts, self.query)
        if self._in_view is not None:
            mask = list(map(self._in_view.__contains__, map(itemgetter(-1), keys)))
            keys, texts = list(compress(keys, mask)), list(compress(texts, mask))
        self._visible, self._visible_text = list(keys), list(texts)
        for rid in self.pinned:
            key = self._key_of(rid)
            if key is not None and self.position(rid) is None:
                _insert(self._visible, self._visible_text, key, search_text(self.requests[rid]))


def _containing(
    keys: list[SortKey], texts: list[str], query: str
) -> tuple[list[SortKey], list[str]]:
    """The keys (and texts) whose search text contains ``query`` (the same lists when all do:
    typing the first letters of a filter often keeps every row, and copying 100,000 keys twice
    costs as much as the scan)."""
    mask = list(map(contains, texts, repeat(query)))
    if False not in mask:
        return keys, texts
    return list(compress(keys, mask)), list(compress(texts, mask))


def _insert(keys: list[SortKey], texts: list[str], key: SortKey, text: str) -> None:
    i = bisect.bisect_left(keys, key)
    keys.insert(i, key)
    texts.insert(i, text)


def _remove(keys: list[SortKey], texts: list[str], key: SortKey) -> None:
    i = bisect.bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        del keys[i]
        del texts[i]
