"""A due time in the request forms, and assignees from the staff directory, as a clerk meets them.

Against a real server: the form reads ``06:00`` as the next 06:00 and says so beside the field,
refuses what it cannot read without losing what was typed, sends ``due_at`` on create and on
edit, and the queue counts down to it. The assignee picker lists the directory (online first)
and refuses a typo at once, offline too, from the directory an earlier session saw.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import SIZE, config_for, offline_app, ready, rows
from helpers import wait_for
from offline_kit import drained, new_request
from textual.widgets import Input

from tui.app import FrontdeskApp
from tui.screens.assign_form import NO_DIRECTORY, AssignForm
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm


@pytest.fixture
def utc_terminal(monkeypatch) -> Iterator[None]:
    """Due times are read on the terminal's wall clock: make it UTC, whatever the machine says."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def form(app: FrontdeskApp) -> RequestForm:
    screen = app.screen
    assert isinstance(screen, RequestForm)
    return screen


def typed(app: FrontdeskApp) -> tuple[str, str, str]:
    """Room, description and due time as they stand in the form."""
    fields = (
        form(app).query_one(f"#{key}", Input).value for key in ("room", "description", "due_at")
    )
    room, description, due = fields
    return room, description, due


def hint(app: FrontdeskApp, key: str) -> str:
    return str(form(app).query_one(f"#{key}-hint").render())


def synced(app: FrontdeskApp) -> bool:
    engine = app.engine
    return engine is not None and engine.status.connection == "online" and drained(engine)


async def test_a_wake_up_call_at_0600_booked_at_0100_is_due_then_not_overdue(
    server, tmp_path, utc_terminal
):
    # Tomorrow 01:00 on the app's clock: the deadline is in the real future too, so the
    # server's SLA job leaves the request alone while the test runs.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    one_am = tomorrow.replace(hour=1, minute=0, second=0, microsecond=0)
    clock = [one_am]
    config = await config_for(server, tmp_path, "ann")
    app = FrontdeskApp(config, bell=False, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: synced(app), message="online")
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, RequestForm))
        await pilot.press(*"1204", "tab", *"Wake-up call", "tab", "tab", "tab")
        assert app.focused is not None and app.focused.id == "due_at"

        await pilot.press(*"25:00")
        await wait_for(lambda: "25:00" in form(app).error_for("due_at"))
        assert form(app).error_for("due_at") == "25:00 is not a time of day (00:00 to 23:59)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RequestForm), "not saved, nothing lost"
        assert typed(app) == ("1204", "Wake-up call", "25:00")

        await pilot.press(*["backspace"] * 5, *"06:00")
        await wait_for(lambda: hint(app, "due_at") == "today 06:00")
        assert form(app).error_for("due_at") == ""
        clock[0] = one_am.replace(hour=7)  # had it been 07:00, 06:00 would be tomorrow's
        await pilot.press("backspace", "0")
        await wait_for(lambda: hint(app, "due_at") == "tomorrow 06:00")
        clock[0] = one_am

        await pilot.press("backspace", "0", "ctrl+s")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await wait_for(lambda: synced(app), message="confirmed")
        assert app.engine is not None
        (request,) = app.engine.requests()
        assert request.number is not None, "confirmed by the server"
        assert request.due_at == one_am.replace(hour=6)
        (row,) = rows(app)
        assert " 5h00 " in row and " -" not in row, row  # not overdue at 01:00

        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, RequestForm))
        assert typed(app)[2] == f"{one_am:%Y-%m-%d} 06:00"
        assert hint(app, "due_at") == "today 06:00"
        await pilot.press("tab", "tab", "tab", "tab", "ctrl+u", *"tomorrow 07:30", "ctrl+s")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await wait_for(lambda: synced(app), message="edit confirmed")
        edited = app.engine.get(request.id)
        assert edited is not None and edited.version > request.version
        assert edited.due_at == one_am.replace(hour=7, minute=30) + timedelta(days=1)


async def test_an_edit_that_changes_the_priority_keeps_a_deadline_of_the_clerks_own(
    tmp_path, utc_terminal
):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        due = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
        wake_up = await new_request(app.engine, description="Wake-up call", due_at=due)
        towels = await new_request(app.engine, room="1110")
        await wait_for(lambda: len(rows(app)) == 2)
        for request in (wake_up, towels):
            app.screen.table.select_id(request.id)  # type: ignore[attr-defined]
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, RequestForm))
            form(app).query_one("#priority").value = "urgent"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine.get(wake_up.id).due_at == due, "the wake-up call stays at its time"
        urgent = app.engine.get(towels.id)
        assert urgent.due_at - urgent.created_at == timedelta(minutes=15), "the SLA table's"


async def test_offline_the_picker_refuses_a_typo_from_the_directory_of_an_earlier_session(
    server, tmp_path
):
    config = await config_for(server, tmp_path, "ann")
    online = FrontdeskApp(config, bell=False)
    async with online.run_test(size=SIZE) as pilot:
        await ready(online, pilot)
        await wait_for(lambda: synced(online) and online.engine.staff is not None)
        assert online.engine is not None
        await new_request(online.engine, room="1204")
        await wait_for(lambda: synced(online), message="sent")

    app = FrontdeskApp(dataclasses.replace(config, server_url=None), bell=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("A")
        await wait_for(lambda: isinstance(app.screen, AssignForm))
        picker = app.screen
        assert isinstance(picker, AssignForm)
        assert picker.shown_names() == ["ann", "bob", "meg"], "the directory, admins left out"
        assert not picker.query_one("#assign-note").display

        await pilot.press("b")
        await pilot.pause()
        assert picker.shown_names() == ["bob"] and picker.error() == ""
        await pilot.press("b")
        await wait_for(lambda: picker.error() != "")
        assert picker.error() == "no account named bb in the staff directory"
        await pilot.press("o", "enter")
        await pilot.pause()
        assert app.screen is picker, "refused: the form stays"
        assert picker.error() == "no account named bbo in the staff directory"

        await pilot.press("ctrl+u", *"bob", "enter")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine is not None
        assert [r.assignee for r in app.engine.requests()] == ["bob"]


async def test_before_any_directory_the_picker_says_so_and_offers_the_names_seen(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await new_request(app.engine, assignee="zoe")
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("A")
        await wait_for(lambda: isinstance(app.screen, AssignForm))
        picker = app.screen
        assert isinstance(picker, AssignForm)
        note = picker.query_one("#assign-note")
        assert note.display and str(note.render()) == NO_DIRECTORY
        assert picker.shown_names() == ["zoe"]
        await pilot.press("ctrl+u")
        await pilot.pause()
        assert picker.shown_names() == ["ann", "zoe"]
