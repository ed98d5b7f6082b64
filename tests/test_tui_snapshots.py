"""Snapshot tests: each screen looks as approved (``pytest --snapshot-update`` after a review).

Offline-only engines with no rows keep the empty screens free of clocks and counters that move.
The screens full of rows (the live queue, the night manager's view, a request's detail) run
against a real server holding a fixed shift: fixed ids and times, committed before the server
starts, so ticket numbers and the server's history are the same every run, and the app is given
a fixed clock (``FrontdeskApp(clock=...)``), so every SLA countdown and colour is too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import USERS, LoopThread, make_config, start_server
from helpers import token_for
from textual.pilot import Pilot

from backend.app import FrontdeskServer
from backend.seeding import Seeder
from backend.sqlite_store import SqliteStore
from offline.engine import EngineConfig
from protocol.models import Role
from protocol.rules import Actor, Rejection
from tui.app import FrontdeskApp
from tui.screens.alerts import AlertsScreen
from tui.screens.detail import DetailScreen
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm

SIZE = (120, 36)


def app_for(tmp_path) -> FrontdeskApp:
    return FrontdeskApp(EngineConfig(data_dir=tmp_path / "ann", user="ann", role=Role.STAFF))


async def queue_shown(pilot: Pilot) -> None:
    while not isinstance(pilot.app.screen, QueueScreen):
        await pilot.pause(0.01)
    await pilot.pause()


def test_empty_queue_offline(snap_compare, tmp_path):
    assert snap_compare(app_for(tmp_path), terminal_size=SIZE, run_before=queue_shown)


def test_new_request_form_with_an_empty_room(snap_compare, tmp_path):
    assert snap_compare(
        app_for(tmp_path),
        press=["n", "tab", *"leak", "ctrl+s", "_"],
        terminal_size=SIZE,
        run_before=queue_shown,
    )


def test_help_screen(snap_compare, tmp_path):
    assert snap_compare(
        app_for(tmp_path), press=["question_mark", "_"], terminal_size=SIZE, run_before=queue_shown
    )


def test_conflicts_screen_with_nothing_parked(snap_compare, tmp_path):
    assert snap_compare(
        app_for(tmp_path), press=["C", "_"], terminal_size=SIZE, run_before=queue_shown
    )


def test_performance_panel_offline(snap_compare, tmp_path):
    assert snap_compare(
        app_for(tmp_path), press=["P", "_"], terminal_size=SIZE, run_before=queue_shown
    )


# -- a fixed shift on a real server ---------------------------------------------------------

NOW = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)
"""The time on every clock of these snapshots: the server's history and the app's SLA clock."""

ANN, BOB, MEG = (Actor(name, Role(USERS[name][0])) for name in ("ann", "bob", "meg"))

# (minutes ago, mutation, args without id, by whom) per request, in the order they happened.
SHIFT: list[list[tuple[float, str, dict[str, Any], Actor]]] = [
    [
        (
            130,
            "create_request",
            {
                "room": "905",
                "category": "maintenance",
                "description": "TV remote does not work",
                "priority": "normal",
            },
            BOB,
        ),
        (126, "set_status", {"status": "acknowledged"}, BOB),
        (120, "set_status", {"status": "in_progress"}, BOB),
        (95, "set_status", {"status": "completed"}, BOB),
    ],
    [
        (
            110,
            "create_request",
            {
                "room": "210",
                "category": "other",
                "description": "Parcel expected by courier today",
                "priority": "low",
                "guest_name": "Raj Patel",
            },
            ANN,
        ),
    ],
    [
        (
            100,
            "create_request",
            {
                "room": "1402",
                "category": "front_desk",
                "description": "Late checkout until 14:00",
                "priority": "normal",
                "guest_name": "Sophie Martin",
            },
            MEG,
        ),
        (60, "set_status", {"status": "cancelled"}, MEG),
    ],
    [
        (
            90,
            "create_request",
            {
                "room": "611",
                "category": "housekeeping",
                "description": "Fresh bath robes",
                "priority": "low",
                "guest_name": "Zoë Dubois",
            },
            ANN,
        ),
        (85, "assign", {"assignee": "ann"}, ANN),
        (80, "set_status", {"status": "in_progress"}, ANN),
        (40, "set_status", {"status": "completed"}, ANN),
    ],
    [
        (
            70,
            "create_request",
            {
                "room": "1204",
                "category": "housekeeping",
                "description": "Two extra towels",
                "priority": "normal",
                "guest_name": "Maria Rossi",
            },
            BOB,
        ),
        (66, "assign", {"assignee": "bob"}, MEG),
    ],
    [
        (
            50,
            "create_request",
            {
                "room": "1110",
                "category": "room_service",
                "description": "Breakfast for two at 07:30: 和朝食 ×2",
                "priority": "normal",
                "guest_name": "田中 由紀 (Yuki Tanaka)",
            },
            ANN,
        ),
        (49, "set_status", {"status": "acknowledged"}, ANN),
    ],
    [
        (
            25,
            "create_request",
            {
                "room": "1507",
                "category": "housekeeping",
                "description": "Spilled wine on the carpet",
                "priority": "high",
                "guest_name": "Jürgen Weiß",
            },
            BOB,
        ),
        (24, "assign", {"assignee": "ann"}, BOB),
        (20, "set_status", {"status": "in_progress"}, ANN),
        (19, "add_note", {"text": "Stain remover from the laundry; carpet crew at 22:00"}, ANN),
    ],
    [
        (
            28,
            "create_request",
            {
                "room": "817",
                "category": "maintenance",
                "description": "Leak under the bathroom sink, water on the floor",
                "priority": "urgent",
                "guest_name": "Lars Nilsson",
            },
            ANN,
        ),
        (26, "add_note", {"text": "Guest moved to 819 for the night"}, ANN),
        (24, "assign", {"assignee": "meg"}, MEG),
        (20, "set_status", {"status": "acknowledged"}, MEG),
        (9, "add_note", {"text": "Plumber called, on his way (~20 min)"}, MEG),
    ],
    [
        (
            12,
            "create_request",
            {
                "room": "404",
                "category": "maintenance",
                "description": "Air conditioning blows warm air",
                "priority": "high",
            },
            BOB,
        ),
        (10, "assign", {"assignee": "bob"}, BOB),
    ],
    [
        (
            10,
            "create_request",
            {
                "room": "302",
                "category": "concierge",
                "description": "Taxi to the airport at 05:45",
                "priority": "high",
                "guest_name": "James O'Neill",
            },
            MEG,
        ),
    ],
    [
        (
            4,
            "create_request",
            {
                "room": "1204",
                "category": "front_desk",
                "description": "Guest locked out, key card dead",
                "priority": "urgent",
                "guest_name": "Maria Rossi",
            },
            ANN,
        ),
        (2, "assign", {"assignee": "ann"}, ANN),
    ],
]


def shift_id(k: int) -> str:
    """The id of the ``k``-th request of the shift (from 1)."""
    return str(uuid.UUID(int=k, version=4))


SYSTEM = Actor("system", Role.MANAGER, system=True)
"""The server's own actor (its SLA job)."""

ALERT_NIGHT: list[list[tuple[float, str, dict[str, Any], Actor]]] = [
    *SHIFT,
    [
        (
            60,
            "create_request",
            {
                "room": "512",
                "category": "maintenance",
                "description": "Smoke smell in the corridor",
                "priority": "urgent",
            },
            BOB,
        ),
        (57, "acknowledge_alert", {"index": 0}, MEG),
        (55, "set_status", {"status": "in_progress"}, MEG),
        (30, "set_status", {"status": "completed"}, MEG),
    ],
]
"""The shift, and an urgent request whose alert meg acknowledged after three minutes."""


async def seed_shift(
    data_dir: Path, shift: list[list[tuple[float, str, dict[str, Any], Actor]]] = SHIFT
) -> None:
    """Commit the shift straight into a new store (the demo data's way: real mutators, real
    change log, times in the past), so the server starts with it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = await SqliteStore.open(data_dir)
    try:
        seeder = Seeder(store)
        for k, steps in enumerate(shift, start=1):
            for minutes_ago, name, args, actor in steps:
                at = NOW - timedelta(minutes=minutes_ago)
                made = seeder.apply(name, {"id": shift_id(k), **args}, actor, at)
                assert not isinstance(made, Rejection), made
        if shift is ALERT_NIGHT:
            # The SLA job, 9 minutes ago: the towels for 1204 (#5) are late; raised a step.
            towels = seeder.rows[shift_id(5)]
            args = {"id": towels.id, "due_at": towels.due_at.isoformat(), "escalate": True}
            at = NOW - timedelta(minutes=9)
            raised = seeder.apply("raise_sla_alert", args, SYSTEM, at)
            assert not isinstance(raised, Rejection), raised
        await store.commit_batch(seeder.batch)
    finally:
        await store.close()


@pytest.fixture
def utc_terminal(monkeypatch) -> Iterator[None]:
    """Times are shown in the terminal's zone: make it UTC, whatever the machine says."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def shift_server(tmp_path, utc_terminal) -> Iterator[tuple[FrontdeskServer, str]]:
    """A server holding ``SHIFT`` and a token for ann. Its jobs sleep for an hour, so no SLA
    alert or escalation (judged by the real clock) changes the fixed shift under the test."""
    yield from _server_with(tmp_path, SHIFT)


@pytest.fixture
def alert_server(tmp_path, utc_terminal) -> Iterator[tuple[FrontdeskServer, str]]:
    """``shift_server`` holding ``ALERT_NIGHT``: open alerts of three kinds, one acknowledged."""
    yield from _server_with(tmp_path, ALERT_NIGHT)


def _server_with(
    tmp_path: Path, shift: list[list[tuple[float, str, dict[str, Any], Actor]]]
) -> Iterator[tuple[FrontdeskServer, str]]:
    config = make_config(tmp_path, sla_check_seconds=3600, cleanup_seconds=3600)
    asyncio.run(seed_shift(config.data_dir, shift))
    host = LoopThread()
    try:
        server = host.call(start_server(config))
        try:
            yield server, host.call(token_for(server, "ann", USERS["ann"][1]))
        finally:
            host.call(server.close())
    finally:
        host.stop()


def live_app(tmp_path, shift_server) -> FrontdeskApp:
    server, token = shift_server
    config = EngineConfig(
        data_dir=tmp_path / "ann-live",
        user="ann",
        role=Role.STAFF,
        server_url=server.url,
        token=token,
    )
    return FrontdeskApp(config, bell=False, clock=lambda: NOW)


async def until(pilot: Pilot, condition, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.02)


async def shift_shown(pilot: Pilot, requests: int = len(SHIFT)) -> None:
    """Online, caught up, every request of the shift in the table."""
    app = pilot.app
    await queue_shown(pilot)

    def caught_up() -> bool:
        engine = app.engine  # type: ignore[attr-defined]
        status = engine.status if engine is not None else None
        screen = app.screen
        return (
            status is not None
            and status.connection == "online"
            and not status.catching_up
            and isinstance(screen, QueueScreen)
            and len(screen.model.requests) == requests
        )

    await until(pilot, caught_up)
    await pilot.pause()


async def history_shown(pilot: Pilot) -> None:
    """The night view, Enter on its first row (the most overdue), the server's history loaded."""
    await shift_shown(pilot)
    await pilot.press("6", "home", "enter")

    def loaded() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, DetailScreen):
            return False
        return "loading" not in str(screen.query_one("#history").render())

    await until(pilot, loaded)
    await pilot.pause()


def test_live_queue_with_a_shift_of_requests(snap_compare, tmp_path, shift_server):
    """Rows of every status and priority, SLA countdowns amber (past 75 %) and red (late),
    a CJK guest name and accents keeping the columns aligned."""
    assert snap_compare(
        live_app(tmp_path, shift_server), terminal_size=SIZE, run_before=shift_shown
    )


def test_night_manager_view_sorted_by_time_left(snap_compare, tmp_path, shift_server):
    """Urgent, high and overdue requests only, the most overdue first."""
    assert snap_compare(
        live_app(tmp_path, shift_server), press=["6"], terminal_size=SIZE, run_before=shift_shown
    )


def test_detail_with_notes_and_server_history(snap_compare, tmp_path, shift_server):
    """Every field, the notes with author and time, the history as the server keeps it."""
    assert snap_compare(
        live_app(tmp_path, shift_server), terminal_size=SIZE, run_before=history_shown
    )


# -- 80x24, the size of many front-desk terminal windows --------------------------------------

SMALL = (80, 24)


def test_live_queue_at_80x24_keeps_the_assignee_and_names_the_hidden_column(
    snap_compare, tmp_path, shift_server
):
    """No category column at 80 columns: the title says so; room, status, assignee, SLA and
    the description's start still fit."""
    assert snap_compare(
        live_app(tmp_path, shift_server), terminal_size=SMALL, run_before=shift_shown
    )


async def duplicate_named(pilot: Pilot) -> None:
    """The new-request form at its fullest: suggestions beside two fields and a duplicate."""
    await shift_shown(pilot)
    await pilot.press("n", *"817", "tab", *"leak under the bathroom sink again")

    def warned() -> bool:
        form = pilot.app.screen
        return isinstance(form, RequestForm) and "Looks like" in form.duplicate_warning()

    await until(pilot, warned)
    await pilot.pause()


def test_new_request_form_at_80x24_shows_the_save_hint(snap_compare, tmp_path, shift_server):
    """Triage hints and the duplicate warning, and still the keys line at the bottom."""
    assert snap_compare(
        live_app(tmp_path, shift_server), terminal_size=SMALL, run_before=duplicate_named
    )


def test_detail_at_80x24(snap_compare, tmp_path, shift_server):
    assert snap_compare(
        live_app(tmp_path, shift_server), terminal_size=SMALL, run_before=history_shown
    )


async def due_time_typed(pilot: Pilot) -> None:
    """A wake-up call booked at 21:30 for 06:00: the form reads it back as tomorrow's."""
    await queue_shown(pilot)
    await pilot.press("n", *"1204", "tab", *"Wake-up call, two knocks", "tab", "tab", "tab")
    await pilot.press(*"06:00")

    def read_back() -> bool:
        form = pilot.app.screen
        return isinstance(form, RequestForm) and "tomorrow" in str(
            form.query_one("#due_at-hint").render()
        )

    await until(pilot, read_back)
    await pilot.pause()


def test_new_request_form_with_a_due_time_at_80x24(snap_compare, tmp_path, utc_terminal):
    """The due field between priority and guest, how it reads ("tomorrow 06:00") beside it,
    and the keys line still at the bottom."""
    config = EngineConfig(data_dir=tmp_path / "ann", user="ann", role=Role.STAFF)
    app = FrontdeskApp(config, bell=False, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=SMALL, run_before=due_time_typed)


async def alerts_shown(pilot: Pilot) -> None:
    """The night with its alerts, then ``b``: the alerts screen."""
    await shift_shown(pilot, len(ALERT_NIGHT))
    await pilot.press("b")
    await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
    await pilot.pause()


def test_alerts_screen_at_80x24(snap_compare, tmp_path, alert_server):
    """Open alerts oldest first with kind, ticket, room, age and whose they are (dimmed: ann
    may not acknowledge them); the acknowledged one below with who and how long it took."""
    assert snap_compare(
        live_app(tmp_path, alert_server), terminal_size=SMALL, run_before=alerts_shown
    )


async def night_shown(pilot: Pilot) -> None:
    await shift_shown(pilot, len(ALERT_NIGHT))


def test_live_queue_with_open_alerts_at_80x24(snap_compare, tmp_path, alert_server):
    """The banner names the oldest open alert, how many more, and when the bell rings again."""
    assert snap_compare(
        live_app(tmp_path, alert_server), terminal_size=SMALL, run_before=night_shown
    )
