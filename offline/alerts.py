"""Which requests of the optimistic view carry alerts, kept current as rows change.

Alerts are records in their request (``Request.alerts``), so what a terminal shows of them
(banner, counter, the alerts screen) is derived from the view's rows, never from ``alert``
frames alone: a terminal that was offline, catching up or closed learns of them with the rows.
Scanning 100,000 rows for the few with alerts on every change would cost milliseconds each
time; the index keeps the ids of rows that have any alert and looks only at the ids a change
touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocol import AlertRecord, Request
from protocol.alerts import open_alerts


@dataclass(frozen=True, slots=True)
class AlertRef:
    """One alert of one request, as the view shows it now."""

    request: Request
    index: int
    """Position in ``request.alerts`` (what ``acknowledge_alert`` names)."""
    alert: AlertRecord

    @property
    def key(self) -> tuple[str, int]:
        """(request id, index): the same alert across versions of its row."""
        return (self.request.id, self.index)


@dataclass(frozen=True, slots=True)
class AlertDelta:
    """What one change of the view did to its alerts."""

    raised: tuple[tuple[str, int], ...] = ()
    """(request id, index) of unacknowledged alerts this terminal had not seen before."""
    changed: bool = False
    """True when a row with alerts changed (an alert raised or acknowledged, or its number,
    status or text), came or went."""


class AlertIndex:
    """The view's rows that carry alerts, by id, as they were when last looked at."""

    def __init__(self, rows: Mapping[str, Request]) -> None:
        """Index ``rows`` (the view's dict, read again at each ``update``): one pass, once."""
        self._rows = rows
        self._seen: dict[str, Request] = {rid: row for rid, row in rows.items() if row.alerts}
        self._open: set[str] = {
            rid for rid, row in self._seen.items() if any(a.is_open for a in row.alerts)
        }

    def update(self, ids: Iterable[str]) -> AlertDelta:
        """Look at the rows of ``ids`` again (after the view changed them).

        Any new version of a row with alerts counts as a change (its number, room or status
        show beside its alerts); rows without alerts before or after cost one lookup."""
        raised: list[tuple[str, int]] = []
        changed = False
        rows, seen, open_ids = self._rows, self._seen, self._open
        for rid in ids:
            row = rows.get(rid)
            old = seen.get(rid)
            if row is old:
                continue
            after = row.alerts if row is not None else ()
            if not after and old is None:
                continue
            changed = True
            start = len(old.alerts) if old is not None else 0
            raised.extend((rid, i) for i in range(start, len(after)) if after[i].is_open)
            if row is not None and after:
                seen[rid] = row
            else:
                seen.pop(rid, None)
            if any(a.is_open for a in after):
                open_ids.add(rid)
            else:
                open_ids.discard(rid)
        return AlertDelta(tuple(raised), changed)

    def open_alerts(self) -> list[AlertRef]:
        """Every unacknowledged alert, oldest first."""
        refs = [
            AlertRef(row, index, alert)
            for rid in self._open
            if (row := self._rows.get(rid)) is not None
            for index, alert in open_alerts(row)
        ]
        refs.sort(key=_oldest_first)
        return refs

    def acknowledged_alerts(self, limit: int) -> list[AlertRef]:
        """The ``limit`` most recently acknowledged alerts, most recent first."""
        refs = [
            AlertRef(row, index, alert)
            for rid in self._seen
            if (row := self._rows.get(rid)) is not None
            for index, alert in enumerate(row.alerts)
            if not alert.is_open
        ]
        refs.sort(key=_recently_acknowledged)
        return refs[:limit]

    @property
    def open_count(self) -> int:
        """Unacknowledged alerts in the view (a count, no list built)."""
        return sum(
            sum(1 for a in row.alerts if a.is_open)
            for rid in self._open
            if (row := self._rows.get(rid)) is not None
        )


def _oldest_first(ref: AlertRef) -> tuple[float, int, str, int]:
    return (ref.alert.at.timestamp(), ref.request.number or 0, ref.request.id, ref.index)


def _recently_acknowledged(ref: AlertRef) -> tuple[float, str, int]:
    at = ref.alert.acknowledged_at or ref.alert.at
    return (-at.timestamp(), ref.request.id, ref.index)
