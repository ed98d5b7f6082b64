"""The handover report: every figure against a fixed night shift worked out by hand, over HTTP
and from ``frontdesk report``, on both stores; bad periods are a 400 with the reason, and one
line with a non-zero exit on the command line.

The night (tests/report_kit.py) is seeded straight into the store through the real mutators
with a clock of our own, then a real server is started on it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import make_config, start_server
from helpers import token_for
from report_kit import T0, UNTIL, iso, seed_night

from backend.store import open_store


@pytest.fixture
async def night(tmp_path):
    """A server on a store holding the fixed night; yields (server, rows by letter, config)."""
    config = make_config(tmp_path, sla_check_seconds=3600.0)
    store = await open_store(config.data_dir, config.database_url)
    try:
        rows = await seed_night(store)
    finally:
        await store.close()
    server = await start_server(config)
    try:
        yield server, rows, config
    finally:
        await server.close()


async def get_report(server, **params: str) -> httpx.Response:
    token = await token_for(server, "meg", "meg-pass")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.get(
            "/api/v1/report", params=params, headers={"Authorization": f"Bearer {token}"}
        )


async def night_report(server) -> dict[str, Any]:
    response = await get_report(server, since=iso(T0), until=iso(UNTIL))
    assert response.status_code == 200, response.text
    return response.json()


def durations(count: int, median: float | None, p90: float | None) -> dict[str, Any]:
    return {"count": count, "median_s": median, "p90_s": p90}


def assert_durations(got: dict[str, Any], count: int, median: float | None, p90: float | None):
    assert got["count"] == count
    for key, want in (("median_s", median), ("p90_s", p90)):
        if want is None:
            assert got[key] is None
        else:
            assert got[key] == pytest.approx(want)


async def test_opened_and_closed_count_only_the_shift(night):
    server, _rows, _ = night
    report = await night_report(server)
    assert report["since"] == "2026-01-10T23:00:00Z"
    assert report["until"] == report["as_of"] == "2026-01-11T07:00:00Z"
    assert report["opened"] == 6  # B C D E I F (A and H before, G after)
    assert report["completed"] == 4  # A B C I
    assert report["cancelled"] == 1  # E


async def test_still_open_lists_age_at_the_end_of_the_shift(night):
    server, rows, _ = night
    still = (await night_report(server))["still_open"]
    assert [(o["number"], o["status"], o["age_s"], o["overdue"]) for o in still] == [
        (rows["D"].number, "pending", 6 * 3600 + 20 * 60, True),
        (rows["F"].number, "acknowledged", 55 * 60, False),
    ]
    assert still[0]["priority"] == "urgent"  # escalated


async def test_sla_breaches_include_the_ones_no_alert_was_raised_for(night):
    server, rows, _ = night
    breaches = (await night_report(server))["breaches"]
    got = [(b["number"], b["due_at"], b["late_s"], b["closed_at"]) for b in breaches]
    assert got == [
        (rows["A"].number, "2026-01-10T23:30:00Z", 600, "2026-01-10T23:40:00Z"),
        (rows["C"].number, "2026-01-11T00:15:00Z", 300, "2026-01-11T00:20:00Z"),
        (rows["D"].number, "2026-01-11T01:10:00Z", 5 * 3600 + 50 * 60, None),
        (rows["D"].number, "2026-01-11T01:26:00Z", 5 * 3600 + 34 * 60, None),
    ]


async def test_alerts_say_who_acknowledged_them_and_after_how_long(night):
    server, rows, _ = night
    report = await night_report(server)
    got = [
        (a["number"], a["kind"], a["at"], a["acknowledged_by"], a["to_acknowledge_s"])
        for a in report["alerts"]
    ]
    c, d = rows["C"].number, rows["D"].number
    assert got == [
        (c, "urgent", "2026-01-11T00:00:00Z", "bob", 300),
        (c, "sla_breach", "2026-01-11T00:16:00Z", None, None),
        (d, "sla_breach", "2026-01-11T01:11:00Z", "meg", 1140),
        (d, "escalated", "2026-01-11T01:11:00Z", None, None),
    ]
    assert report["alerts_acknowledged"] == 2
    assert_durations(report["alert_acknowledge"], 2, 720, 1056)  # of 300 and 1140


async def test_times_by_category_are_median_and_p90_of_the_shift_s_events(night):
    server, _rows, _ = night
    times = {t["key"]: t for t in (await night_report(server))["times_by_category"]}
    assert list(times) == ["housekeeping", "maintenance", "concierge"]
    hk = times["housekeeping"]
    assert_durations(hk["acknowledge"], 2, 1500, 2220)  # A 2400, B 600
    assert_durations(hk["start"], 3, 900, 2580)  # A 3000, B 900, I 600
    assert_durations(hk["complete"], 3, 3000, 3960)  # A 4200, B 1800, I 3000
    assert_durations(times["maintenance"]["acknowledge"], 0, None, None)
    assert_durations(times["maintenance"]["start"], 1, 600, 600)  # C
    assert_durations(times["maintenance"]["complete"], 1, 1200, 1200)
    assert_durations(times["concierge"]["acknowledge"], 1, 300, 300)  # F


async def test_times_by_staff_follow_the_assignee(night):
    server, _rows, _ = night
    times = {t["key"]: t for t in (await night_report(server))["times_by_staff"]}
    assert list(times) == ["ann", "bob"]
    assert_durations(times["ann"]["acknowledge"], 2, 1350, 2190)  # A 2400, F 300
    assert_durations(times["ann"]["complete"], 1, 4200, 4200)
    assert_durations(times["bob"]["acknowledge"], 1, 600, 600)  # B
    assert_durations(times["bob"]["start"], 3, 600, 840)  # B 900, C 600, I 600
    assert_durations(times["bob"]["complete"], 3, 1800, 2760)  # B 1800, C 1200, I 3000


async def test_on_time_percentage_by_category_and_staff(night):
    server, _rows, _ = night
    report = await night_report(server)

    def lines(key: str) -> list[tuple[str, int, int, float | None]]:
        return [(r["key"], r["completed"], r["on_time"], r["percent"]) for r in report[key]]

    assert (report["on_time"]["completed"], report["on_time"]["percent"]) == (4, 50.0)
    assert lines("on_time_by_category") == [
        ("housekeeping", 3, 2, 66.7),  # A late, B and I on time
        ("maintenance", 1, 0, 0.0),  # C: breached (alert and late)
    ]
    assert lines("on_time_by_staff") == [("ann", 1, 0, 0.0), ("bob", 3, 2, 66.7)]


async def test_a_shorter_period_takes_only_its_own_events(night):
    server, rows, _ = night
    response = await get_report(
        server, since="2026-01-11T00:00:00Z", until="2026-01-11T01:00:00+00:00"
    )
    report = response.json()
    assert report["opened"] == 2  # C (00:00) and D (00:40)
    assert report["completed"] == 1  # C
    assert [b["number"] for b in report["breaches"]] == [rows["C"].number]
    assert [o["number"] for o in report["still_open"]] == [rows["D"].number]


async def test_the_shift_is_resolved_by_the_server(night):
    server, _rows, _ = night
    response = await get_report(server, shift="last")
    assert response.status_code == 200
    report = response.json()
    assert report["shift"] in {"night", "morning", "evening"}
    since = datetime.fromisoformat(report["since"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(report["until"].replace("Z", "+00:00"))
    assert timedelta(hours=7) <= until - since <= timedelta(hours=9)
    assert until <= datetime.now(UTC)


BAD_PERIODS = [
    ({"since": "2026-01-11T07:00:00Z", "until": "2026-01-10T23:00:00Z"}, "until must be after"),
    ({"since": "last tuesday", "until": "2026-01-10T23:00:00Z"}, "since is not a time"),
    ({"since": "2026-01-10T23:00:00Z", "until": "soon"}, "until is not a time"),
    ({"since": "2026-01-10T23:00:00", "until": "2026-01-11T07:00:00Z"}, "time zone"),
    ({"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "at most a year"),
    ({"shift": "noon"}, "no shift 'noon'"),
    ({}, "give since"),
]


async def test_a_bad_period_is_a_400_with_the_reason(night):
    server, _rows, _ = night
    for params, reason in BAD_PERIODS:
        response = await get_report(server, **params)
        assert response.status_code == 400, params
        assert reason in response.json()["error"], (params, response.json())


async def test_only_managers_read_the_report(night):
    server, _rows, _ = night
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        path = f"/api/v1/report?since={iso(T0)}&until={iso(UNTIL)}"
        assert (await http.get(path)).status_code == 401
        staff = await token_for(server, "ann", "ann-pass")
        response = await http.get(path, headers={"Authorization": f"Bearer {staff}"})
        assert response.status_code == 403


def run_report(config, *args: str) -> subprocess.CompletedProcess[str]:
    store = [] if config.database_url else ["--data-dir", str(config.data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "report", *store, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_prints_the_same_report_as_markdown_json_and_csv(night):
    server, rows, config = night
    period = ("--since", iso(T0), "--until", iso(UNTIL))
    as_json = run_report(config, *period, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == await night_report(server)

    markdown = run_report(config, *period)
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    assert text.startswith("# Handover: Report, ")
    assert "- Opened: 6" in text
    assert "- Closed: 5 (4 completed, 1 cancelled)" in text
    assert "- On time: 50.0% (2 of 4 completed)" in text
    assert f"| #{rows['D'].number} | D-room | maintenance | urgent | pending | — | 6h 20m |" in text
    assert "| housekeeping | 3 | 2 | 66.7% |" in text

    as_csv = run_report(config, *period, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    cells = {(r["section"], r["key"], r["figure"]): r["value"] for r in _csv(as_csv.stdout)}
    assert cells[("summary", "", "opened")] == "6"
    assert cells[("on_time_by_staff", "bob", "percent")] == "66.7"
    assert cells[("times_by_category", "housekeeping", "complete_p90_s")] == "3960.0"


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
