"""Shifts: named stretches of the local day (``night`` 23:00-07:00) and their latest occurrence.

The boundaries are server settings (``ServerConfig.shifts``, in the hotel's zone
``shift_timezone``), so ``frontdesk report --shift night`` and every terminal's handover screen
mean the same hours. Pure functions: the caller passes the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_SHIFTS: dict[str, str] = {
    "night": "23:00-07:00",
    "morning": "07:00-15:00",
    "evening": "15:00-23:00",
}

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift: a name and its local start and end (an end at or before the start is on the
    next day)."""

    name: str
    start: time
    end: time


def parse_shifts(spans: dict[str, str]) -> list[Shift]:
    """Shifts from ``{"night": "23:00-07:00", …}``; ValueError naming the bad one."""
    out = []
    for name, span in spans.items():
        m = _SPAN.match(span)
        if not m or not name:
            raise ValueError(f"shift {name!r}: {span!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"shift {name!r}: {span!r} is not a time of day")
        out.append(Shift(name, time(h1, m1), time(h2, m2)))
    return out


def zone(name: str | None) -> tzinfo | None:
    """The hotel's zone (None: the machine's local zone)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None


def _local(day: date, at: time, where: tzinfo | None) -> datetime:
    if where is None:
        return datetime.combine(day, at).astimezone()  # the machine's zone, DST included
    return datetime.combine(day, at, tzinfo=where)


def occurrence(shift: Shift, day: date, where: tzinfo | None) -> tuple[datetime, datetime]:
    """The shift starting on local ``day``: (start, end), aware."""
    start = _local(day, shift.start, where)
    end_day = day + timedelta(days=1) if shift.end <= shift.start else day
    return start, _local(end_day, shift.end, where)


def _occurrences(
    shift: Shift, now: datetime, where: tzinfo | None
) -> list[tuple[datetime, datetime]]:
    today = now.astimezone(where).date()
    return [occurrence(shift, today - timedelta(days=k), where) for k in range(-1, 3)]


def latest(shift: Shift, now: datetime, where: tzinfo | None) -> tuple[datetime, datetime]:
    """The latest occurrence that has started by ``now`` (possibly still running)."""
    return max(o for o in _occurrences(shift, now, where) if o[0] <= now)


def resolve(
    name: str, shifts: list[Shift], now: datetime, where: tzinfo | None
) -> tuple[str, datetime, datetime]:
    """(shift name, since, until) for ``name``: a shift's latest start, ``current`` (the one
    running now) or ``last`` (the one that ended most recently: the one being handed over)."""
    if not shifts:
        raise ValueError("no shifts are configured")
    if name == "last":
        ended = [(o, s.name) for s in shifts for o in _occurrences(s, now, where) if o[1] <= now]
        (since, until), which = max(ended, key=lambda e: e[0][1])
        return which, since, until
    if name == "current":
        running = [(latest(s, now, where), s.name) for s in shifts]
        (since, until), which = max(running, key=lambda e: e[0][0])
        return which, since, until
    for s in shifts:
        if s.name == name:
            since, until = latest(s, now, where)
            return s.name, since, until
    names = ", ".join([s.name for s in shifts] + ["current", "last"])
    raise ValueError(f"no shift {name!r} (shifts: {names})")
