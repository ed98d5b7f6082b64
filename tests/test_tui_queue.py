"""The front desk at work, offline only: log, see, acknowledge, and read what was typed."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path

from helpers import wait_for

from offline.engine import EngineConfig
from protocol.models import Role, Status
from tui.app import FrontdeskApp
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm
from tui.widgets.request_table import RequestTable
from tui.widgets.status_bar import StatusBar

SIZE = (120, 40)


def offline_app(tmp_path: Path, user: str = "ann", role: Role = Role.STAFF) -> FrontdeskApp:
    return FrontdeskApp(EngineConfig(data_dir=tmp_path / user, user=user, role=role))


async def ready(app: FrontdeskApp, pilot) -> QueueScreen:
    await wait_for(lambda: isinstance(app.screen, QueueScreen), message="queue not shown")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


def table_text(app: FrontdeskApp) -> list[str]:
    table = app.screen.query_one(RequestTable)
    return [table.render_line(y).text for y in range(table.size.height)]


def screen_text(svg: str) -> str:
    """The characters of an exported screenshot, line by line (text nodes joined per row)."""
    rows: dict[str, list[str]] = defaultdict(list)
    for y, chunk in re.findall(r'<text [^>]*y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[y].append(html.unescape(chunk).replace("\xa0", " "))
    return "\n".join("".join(parts) for _, parts in sorted(rows.items(), key=lambda r: float(r[0])))


def status_text(app: FrontdeskApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def log_request(pilot, room: str, description: str) -> None:
    await pilot.press("n")
    await wait_for(lambda: isinstance(pilot.app.screen, RequestForm), message="form not open")
    await pilot.press(*room)
    await pilot.press("enter")
    await pilot.press(*description) if description.isprintable() else None
    await pilot.press("ctrl+s")
    await pilot.pause()


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
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await log_request(pilot, "817", "leak")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await pilot.press("c")
        await pilot.pause()
        assert app.engine is not None
        assert app.engine.requests()[0].status == Status.PENDING
        shown = [n.message for n in app._notifications]
        assert any("cannot move a request from pending to completed" in m for m in shown)


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
