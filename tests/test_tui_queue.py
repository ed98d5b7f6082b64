"""The front desk at work, offline only: log, see, acknowledge, and read what was typed."""

from __future__ import annotations

from conftest import (
    SIZE,
    log_request,
    offline_app,
    ready,
    screen_text,
    status_text,
    table_text,
    toast_texts,
)
from helpers import wait_for

from protocol.models import Status
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm


async def test_logging_a_request_with_n_adds_a_row_marked_pending(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await log_request(pilot, "1204", "towels")
        await wait_for(lambda: isinstance(app.screen, QueueScreen), message="form did not close")
        await wait_for(lambda: any("1204" in line for line in table_text(app)))
        row = next(line for line in table_text(app) if "1204" in line)
        assert "⟳" in row and "…" in row and "towels" in row
        assert "offline" in status_text(app) and "1 pending" in status_text(app)


async def test_form_refuses_an_empty_room_with_the_reason_next_to_the_field(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, RequestForm))
        await pilot.press("tab", *"leak", "ctrl+s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, RequestForm)
        assert form.error_for("room") == "room is required"
        assert form.error_for("description") == ""
        assert app.engine is not None and app.engine.requests() == []


async def test_acknowledging_a_pending_row_with_a_moves_it_to_acknowledged(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await log_request(pilot, "817", "leak under the sink")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("a")
        await pilot.pause()
        engine = app.engine
        assert engine is not None
        (request,) = engine.requests()
        assert request.status == Status.ACKNOWLEDGED
        await wait_for(lambda: any("acknowledged" in line for line in table_text(app)))
        assert "2 pending" in status_text(app)


async def test_an_invalid_move_is_refused_with_the_rule_books_reason(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(app, pilot)
        await log_request(pilot, "817", "leak")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("c")
        reason = "cannot move a request from pending to completed"
        await wait_for(
            lambda: any(reason in text for text in toast_texts(app)), message=str(toast_texts(app))
        )
        assert app.engine is not None
        assert app.engine.requests()[0].status == Status.PENDING


async def test_markup_and_escape_codes_in_a_description_show_literally(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await app.engine.create_request(
            room="1204",
            category="maintenance",
            description="[bold]x[/] \x1b[2J gone?",
            priority="urgent",
        )
        await wait_for(lambda: any("[bold]x[/]" in line for line in table_text(app)))
        svg = app.export_screenshot()
        assert "\x1b" not in svg
        text = screen_text(svg)
        assert "[bold]x[/] ␛[2J gone?" in text


async def test_status_bar_says_offline_and_counts_pending_edits_without_a_server(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert "offline" in status_text(app) and "0 pending" in status_text(app)
        await log_request(pilot, "12", "late checkout")
        await wait_for(lambda: "1 pending" in status_text(app), message=status_text(app))
        assert "offline" in status_text(app)
