"""Shifts resolve to the hours a manager means: the night that just ended at 07:05, the one
running at 02:00, across midnight and daylight-saving changes in the hotel's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.shifts import DEFAULT_SHIFTS, parse_shifts, resolve
from protocol.report import Report, to_markdown

SHIFTS = parse_shifts(DEFAULT_SHIFTS)
PARIS = ZoneInfo("Europe/Paris")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_last_at_handover_is_the_night_that_just_ended():
    now = local(2026, 12, 5, 7, 5)
    assert resolve("last", SHIFTS, now, PARIS) == (
        "night",
        local(2026, 12, 4, 23, 0),
        local(2026, 12, 5, 7, 0),
    )


def test_a_named_shift_is_its_latest_start_even_while_it_runs():
    now = local(2026, 12, 5, 2, 0)
    assert resolve("night", SHIFTS, now, PARIS)[1:] == (
        local(2026, 12, 4, 23, 0),
        local(2026, 12, 5, 7, 0),
    )
    assert resolve("current", SHIFTS, now, PARIS)[0] == "night"
    assert resolve("evening", SHIFTS, now, PARIS)[1:] == (
        local(2026, 12, 4, 15, 0),
        local(2026, 12, 4, 23, 0),
    )


def test_a_night_across_the_clock_change_is_seven_hours_long():
    now = local(2026, 3, 29, 8, 0)  # clocks went forward at 02:00 that night
    _, since, until = resolve("night", SHIFTS, now, PARIS)
    assert (until.astimezone(UTC) - since.astimezone(UTC)).total_seconds() == 7 * 3600


@pytest.mark.parametrize("spans", [{"night": "23:00"}, {"night": "25:00-07:00"}, {"": "1:00-2:00"}])
def test_bad_shift_settings_are_refused_by_name(spans):
    with pytest.raises(ValueError, match="shift"):
        parse_shifts(spans)


def test_user_text_in_the_markdown_stays_one_literal_cell():
    report = Report.model_validate(
        {
            "since": "2026-12-04T23:00:00Z",
            "until": "2026-12-05T07:00:00Z",
            "as_of": "2026-12-05T07:00:00Z",
            "opened": 1,
            "completed": 0,
            "cancelled": 0,
            "still_open": [
                {
                    "id": "x",
                    "number": 7,
                    "room": "12|04\nB",
                    "category": "other",
                    "priority": "low",
                    "status": "pending",
                    "assignee": None,
                    "created_at": "2026-12-05T06:00:00Z",
                    "due_at": "2026-12-05T10:00:00Z",
                    "age_s": 3600,
                    "overdue": False,
                }
            ],
            "breaches": [],
            "alerts": [],
            "alerts_acknowledged": 0,
            "alert_acknowledge": {},
            "times_by_category": [],
            "times_by_staff": [],
            "on_time": {"key": "all", "completed": 0, "on_time": 0, "percent": None},
            "on_time_by_category": [],
            "on_time_by_staff": [],
        }
    )
    text = to_markdown(report, UTC)
    assert "| #7 | 12\\|04 B | other | low | pending | — | 1h 00m | 2026-12-05 10:00 |" in text
