"""What a clerk types as a due time, read into a deadline: ``06:00``, ``+45m``, ``tomorrow 07:30``.

A wake-up call at 06:00 is due at 06:00, not at the SLA table's default, so the request forms
take a due time in the words a desk uses. This is UI input, not a domain rule: the rule book
only sees the result (an aware ISO 8601 time in ``due_at``). Pure: the clock (``now``) and the
hotel's zone are passed in (the terminal's own zone by default), so the same text always
means the same instant in tests.

Accepted (case does not matter, spaces around are ignored):

- ``06:00`` or ``6:00``: the next 06:00 (today if it is still to come, else tomorrow);
- ``+45m``, ``+2h``, ``+1h30m``, ``+1d``: that long from now;
- ``today 07:30``, ``tomorrow 07:30``;
- an ISO 8601 date and time, ``2026-12-06 06:00`` or ``2026-12-06T06:00+01:00`` (without a zone:
  the hotel's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

MAX_AHEAD = timedelta(days=366)
"""The furthest a due time may be: further is a typo (``+45h`` meant as minutes, a wrong year)."""
EXAMPLES = "06:00, +45m, tomorrow 07:30 or 2026-12-06 06:00"
"""What the field accepts, in the words its messages use."""

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_SPAN = re.compile(r"\+ ?(?:(\d{1,7}) ?d)? ?(?:(\d{1,7}) ?h)? ?(?:(\d{1,7}) ?(m|min)?)?")
"""``+1d``, ``+2h``, ``+45m``, ``+1h30m``, ``+1h30`` (minutes need their unit unless an hour
count comes first), on text with its spaces already collapsed to one."""
_DAY_WORDS = {"today": 0, "tomorrow": 1}


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline read from what was typed."""

    at: datetime
    """Aware, in UTC."""
    says: str
    """How the form reads it back: ``tomorrow 06:00``, ``today 01:45``, ``Sun 13 Dec 06:00``."""


@dataclass(frozen=True, slots=True)
class BadDue:
    """Why what was typed is not a due time (shown beside the field)."""

    reason: str


def parse_due(text: str, now: datetime, zone: tzinfo | None = None) -> Due | BadDue | None:
    """The deadline ``text`` names at ``now`` in ``zone`` (None: the terminal's zone).

    Returns None for empty text (the SLA table decides), a ``Due``, or a ``BadDue`` with the
    precise reason. ``now`` must be aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    typed = " ".join(text.split()).casefold()
    if not typed:
        return None
    if typed.startswith("+"):
        return _span(typed, now, zone)
    words = typed.split(" ")
    if words[0] in _DAY_WORDS:
        return _day_and_clock(words, now, zone)
    if _CLOCK.fullmatch(typed):
        return _next_clock(typed, now, zone)
    return _iso(text.strip(), now, zone)


def _span(typed: str, now: datetime, zone: tzinfo | None) -> Due | BadDue:
    found = _SPAN.fullmatch(typed)
    if found is None or not any(found.groups()[:3]) or (found[3] and not found[4] and not found[2]):
        return BadDue(f"{typed!r}: write a span as +45m, +2h or +1h30m")
    days, hours, minutes = (int(g) if g else 0 for g in found.groups()[:3])
    if days > MAX_AHEAD.days or hours > MAX_AHEAD.days * 24 or minutes > MAX_AHEAD.days * 1440:
        return BadDue(f"{typed} is more than {MAX_AHEAD.days} days ahead")
    span = timedelta(days=days, hours=hours, minutes=minutes)
    if span <= timedelta(0):
        return BadDue("a due time must be later than now (+0m is now)")
    return _checked(now + span, now, zone)


def _day_and_clock(words: list[str], now: datetime, zone: tzinfo | None) -> Due | BadDue:
    day_word = words[0]
    if len(words) != 2 or not _CLOCK.fullmatch(words[1]):
        return BadDue(f"after {day_word!r} write a time of day, e.g. {day_word} 07:30")
    clock = _clock(words[1])
    if isinstance(clock, BadDue):
        return clock
    day = _local(now, zone).date() + timedelta(days=_DAY_WORDS[day_word])
    at = _at(day, clock, zone)
    if isinstance(at, BadDue):
        return at
    if at <= now:
        return BadDue(f"{day_word} {clock:%H:%M} has passed (it is {_local(now, zone):%H:%M})")
    return _checked(at, now, zone)


def _next_clock(typed: str, now: datetime, zone: tzinfo | None) -> Due | BadDue:
    """The next time the clock shows ``typed``: today if still to come, else tomorrow."""
    clock = _clock(typed)
    if isinstance(clock, BadDue):
        return clock
    today = _local(now, zone).date()
    for day in (today, today + timedelta(days=1)):
        at = _at(day, clock, zone)
        if isinstance(at, BadDue):
            if day != today:
                return at
            continue  # a time the clocks skip today: tomorrow's is the next one
        if at > now:
            return _checked(at, now, zone)
    return BadDue(f"{typed} does not come within a day")  # not reached: tomorrow's comes


def _iso(stripped: str, now: datetime, zone: tzinfo | None) -> Due | BadDue:
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        return BadDue(f"not a due time: {stripped!r} (try {EXAMPLES})")
    if len(stripped) <= 10:  # a date alone: which time of it?
        return BadDue(f"{stripped} needs a time of day too, e.g. {stripped} 06:00")
    if parsed.tzinfo is None:
        at = _at(parsed.date(), parsed.time(), zone)
        if isinstance(at, BadDue):
            return at
    else:
        at = parsed.astimezone(UTC)
    if at <= now:
        return BadDue(f"{stripped} has passed (it is {_local(now, zone):%Y-%m-%d %H:%M})")
    return _checked(at, now, zone)


def _clock(typed: str) -> time | BadDue:
    found = _CLOCK.fullmatch(typed)
    assert found is not None
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        return BadDue(f"{typed} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def _local(moment: datetime, zone: tzinfo | None) -> datetime:
    """``moment`` as the hotel's wall clock shows it."""
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def _at(day: date, clock: time, zone: tzinfo | None) -> datetime | BadDue:
    """The UTC instant the hotel's clock shows ``clock`` on ``day``; a time the clocks skip
    (the hour lost to daylight saving) is refused rather than moved."""
    wall = datetime.combine(day, clock)
    # A naive datetime's ``astimezone`` reads it in the terminal's zone, daylight saving
    # included (a fixed offset taken from now would be an hour off across a change).
    at = (wall.replace(tzinfo=zone) if zone is not None else wall).astimezone(UTC)
    if _local(at, zone).replace(tzinfo=None) != wall:
        return BadDue(f"{day} {clock:%H:%M} does not exist here: the clocks skip it")
    return at


def _checked(at: datetime, now: datetime, zone: tzinfo | None) -> Due | BadDue:
    if at - now > MAX_AHEAD:
        return BadDue(f"{_local(at, zone):%Y-%m-%d %H:%M} is more than {MAX_AHEAD.days} days ahead")
    return Due(at=at, says=describe(at, now, zone))


def describe(at: datetime, now: datetime, zone: tzinfo | None = None) -> str:
    """A deadline as a desk says it: ``today 06:00``, ``tomorrow 06:00``, ``Sun 13 Dec 06:00``."""
    local, today = _local(at, zone), _local(now, zone).date()
    days = (local.date() - today).days
    if days == 0:
        return f"today {local:%H:%M}"
    if days == 1:
        return f"tomorrow {local:%H:%M}"
    if 0 < days < 7:
        return f"{local:%a %H:%M}"
    return f"{local:%a %d %b %Y %H:%M}"


def shown(at: datetime, zone: tzinfo | None = None) -> str:
    """A deadline as the edit form fills the field with it (reads back to the same minute)."""
    return f"{_local(at, zone):%Y-%m-%d %H:%M}"
