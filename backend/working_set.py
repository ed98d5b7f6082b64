"""The requests a server keeps in memory: every open one, and a few recently touched closed ones.

A hotel group logs a million requests a year and almost all of them are closed: holding every
row made memory and start-up grow with history (2.4 GB and 18 s at 1,000,000). The hot paths
need far less: the writer applies mutations to open requests (closed ones are fetched from the
store before a batch is prepared, ``Writer._fetch_missing``), the SLA job reads deadlines of
open ones, a snapshot sends the open ones. Closed rows a mutation or a lookup touched stay in a
small least-recently-used cache, so a burst of edits on one old request reads it once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping

from protocol.models import Request

CLOSED_MAX = 10_000
"""Closed rows kept after a mutation touched them (about 10 MB at 1 KB a row)."""


class WorkingSet(Mapping[str, Request]):
    """Open requests (all of them) plus a bounded cache of closed ones, by request id.

    A read-only mapping to its readers (``get``, ``in``, ``values``); ``put`` is the store's.
    """

    __slots__ = ("_closed", "_open", "closed_max")

    def __init__(self, closed_max: int = CLOSED_MAX) -> None:
        self._open: dict[str, Request] = {}
        self._closed: OrderedDict[str, Request] = OrderedDict()
        self.closed_max = closed_max

    def get(self, rid: str, default: Request | None = None) -> Request | None:  # type: ignore[override]  # one signature is all callers need
        """The row when it is held (a closed one becomes the most recently used)."""
        row = self._open.get(rid)
        if row is not None:
            return row
        row = self._closed.get(rid)
        if row is not None:
            self._closed.move_to_end(rid)
            return row
        return default

    def __getitem__(self, rid: str) -> Request:
        row = self.get(rid)
        if row is None:
            raise KeyError(rid)
        return row

    def __contains__(self, rid: object) -> bool:
        return rid in self._open or rid in self._closed

    def __len__(self) -> int:
        return len(self._open) + len(self._closed)

    def __iter__(self) -> Iterator[str]:
        yield from self._open
        yield from self._closed

    def put(self, row: Request) -> None:
        """Hold the row as it now is: open ones always, closed ones in the cache."""
        rid = row.id
        if row.is_open:
            self._closed.pop(rid, None)
            self._open[rid] = row
            return
        self._open.pop(rid, None)
        closed = self._closed
        closed[rid] = row
        closed.move_to_end(rid)
        while len(closed) > self.closed_max:
            closed.popitem(last=False)

    def put_if_absent(self, row: Request) -> None:
        """Hold a row read from the store unless a (newer or equal) one is held already."""
        if row.id not in self:
            self.put(row)

    def open_rows(self) -> list[Request]:
        """Every open request (a snapshot's first part, the stats' open figures)."""
        return list(self._open.values())

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def closed_count(self) -> int:
        return len(self._closed)

    def clear_closed(self) -> None:
        """Forget every cached closed row (they may be stale: the store reads them again)."""
        self._closed.clear()
