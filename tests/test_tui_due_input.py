"""The due time a clerk types, read into a deadline (``tui.due_input``): a table of what is
typed, at which time, in which zone, and what it means or why it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tui.due_input import BadDue, Due, parse_due

AT_0100 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
AT_0700 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def utc(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "now", "at", "says"),
    [
        ("06:00", AT_0100, utc(5, 6), "today 06:00"),  # a wake-up call booked at 01:00
        ("06:00", AT_0700, utc(6, 6), "tomorrow 06:00"),  # 06:00 has passed: the next one
        ("6:00", AT_0100, utc(5, 6), "today 06:00"),
        (" 06:00 ", AT_0100, utc(5, 6), "today 06:00"),
        ("01:00", AT_0100, utc(6, 1), "tomorrow 01:00"),  # now is not "next"
        ("+45m", AT_0100, utc(5, 1, 45), "today 01:45"),
        ("+2h", AT_0100, utc(5, 3), "today 03:00"),
        ("+1h30m", AT_0100, utc(5, 2, 30), "today 02:30"),
        ("+1h30", AT_0100, utc(5, 2, 30), "today 02:30"),
        ("+1h 30m", AT_0100, utc(5, 2, 30), "today 02:30"),
        ("+90min", AT_0100, utc(5, 2, 30), "today 02:30"),
        ("+1d", AT_0100, utc(6, 1), "tomorrow 01:00"),
        ("+23h", AT_0700, utc(6, 6), "tomorrow 06:00"),
        ("tomorrow 07:30", AT_0100, utc(6, 7, 30), "tomorrow 07:30"),
        ("Tomorrow  7:30", AT_0100, utc(6, 7, 30), "tomorrow 07:30"),
        ("today 23:15", AT_0100, utc(5, 23, 15), "today 23:15"),
        ("2026-12-06 06:00", AT_0100, utc(6, 6), "tomorrow 06:00"),
        ("2026-12-06T06:00", AT_0100, utc(6, 6), "tomorrow 06:00"),
        ("2026-12-06T06:00+01:00", AT_0100, utc(6, 5), "tomorrow 05:00"),
        ("2026-12-06T06:00Z", AT_0100, utc(6, 6), "tomorrow 06:00"),
        ("2026-12-08 06:00", AT_0100, utc(8, 6), "Tue 06:00"),
        (
            "2027-01-20 06:00",
            AT_0100,
            datetime(2027, 1, 20, 6, tzinfo=UTC),
            "Wed 20 Jan 2027 06:00",
        ),
    ],
)
def test_a_due_time_reads_as_a_desk_means_it(typed, now, at, says):
    read = parse_due(typed, now, UTC)
    assert read == Due(at=at, says=says)
    assert read.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("25:00", "25:00 is not a time of day (00:00 to 23:59)"),
        ("6:61", "6:61 is not a time of day (00:00 to 23:59)"),
        ("+45", "'+45': write a span as +45m, +2h or +1h30m"),
        ("+", "'+': write a span as +45m, +2h or +1h30m"),
        ("+0m", "a due time must be later than now (+0m is now)"),
        ("+400d", "+400d is more than 366 days ahead"),
        ("+99999999m", "'+99999999m': write a span as +45m, +2h or +1h30m"),
        ("tomorrow", "after 'tomorrow' write a time of day, e.g. tomorrow 07:30"),
        ("today 00:30", "today 00:30 has passed (it is 01:00)"),
        ("2026-12-04 06:00", "2026-12-04 06:00 has passed (it is 2026-12-05 01:00)"),
        ("2026-12-06", "2026-12-06 needs a time of day too, e.g. 2026-12-06 06:00"),
        ("2030-01-01 06:00", "2030-01-01 06:00 is more than 366 days ahead"),
        (
            "at six",
            "not a due time: 'at six' (try 06:00, +45m, tomorrow 07:30 or 2026-12-06 06:00)",
        ),
    ],
)
def test_what_is_not_a_due_time_gets_a_precise_reason(typed, reason):
    assert parse_due(typed, AT_0100, UTC) == BadDue(reason)


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_due_time_leaves_the_deadline_to_the_sla_table(typed):
    assert parse_due(typed, AT_0100, UTC) is None


def test_times_are_the_hotel_zones_wall_clock_across_a_daylight_saving_change():
    """Paris moves from +01:00 to +02:00 at 02:00 on 2027-03-28: the wall clock decides."""
    paris = ZoneInfo("Europe/Paris")
    noon = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)  # 13:00 in Paris, winter time
    assert parse_due("06:00", noon, paris) == Due(
        datetime(2027, 3, 28, 4, 0, tzinfo=UTC),
        "tomorrow 06:00",  # summer time: +02:00
    )
    assert parse_due("14:00", noon, paris) == Due(
        datetime(2027, 3, 27, 13, 0, tzinfo=UTC), "today 14:00"
    )
    assert parse_due("+24h", noon, paris) == Due(
        datetime(2027, 3, 28, 12, 0, tzinfo=UTC),
        "tomorrow 14:00",  # 24 real hours
    )
    assert parse_due("tomorrow 02:30", noon, paris) == BadDue(
        "2027-03-28 02:30 does not exist here: the clocks skip it"
    )
    assert parse_due("2027-03-28 06:00", noon, paris) == Due(
        datetime(2027, 3, 28, 4, 0, tzinfo=UTC), "tomorrow 06:00"
    )


def test_now_must_say_its_zone():
    with pytest.raises(ValueError, match="aware"):
        parse_due("06:00", datetime(2026, 12, 5, 1, 0), UTC)
