"""The handover screen: the night's report at a glance for the morning manager, a bar chart of
on-time percentages by category, a key to switch shift and one to save it as Markdown; offline
or as staff, it says in words why there is no report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    SIZE,
    LoopThread,
    config_for,
    make_config,
    offline_app,
    ready,
    start_server,
)
from helpers import token_for, wait_for
from report_kit import T0, UNTIL, seed_night
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from backend.app import FrontdeskServer
from backend.store import open_store
from offline.engine import EngineConfig
from protocol.models import Role
from tui.app import FrontdeskApp
from tui.screens.handover import HandoverScreen
from tui.screens.queue import QueueScreen


@pytest.fixture
def utc_terminal(monkeypatch) -> Iterator[None]:
    """Times are shown in the terminal's zone: make it UTC, whatever the machine says."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
async def night_server(tmp_path) -> Any:
    config = make_config(tmp_path, sla_check_seconds=3600.0, cleanup_seconds=3600.0)
    store = await open_store(config.data_dir, config.database_url)
    try:
        await seed_night(store)
    finally:
        await store.close()
    server = await start_server(config)
    try:
        yield server
    finally:
        await server.close()


def note(app: FrontdeskApp) -> str:
    return str(app.screen.query_one("#handover-note", Static).render())


def cells(app: FrontdeskApp, key: str) -> list[list[str]]:
    table = app.screen.query_one(f"#handover-{key}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_morning_manager_reads_the_night_and_saves_it(
    night_server, tmp_path, utc_terminal
):
    app = FrontdeskApp(await config_for(night_server, tmp_path, "meg"), bell=False)
    documents = tmp_path / "Documents"
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await app.push_screen(
            HandoverScreen(app.engine, period=(T0, UNTIL), documents_dir=documents)
        )
        await wait_for(lambda: "Period: Sat 10 Jan 23:00 to Sun 11 Jan 07:00" in note(app))
        summary = str(app.screen.query_one("#handover-summary", Static).render())
        assert "Opened 6" in summary and "On time 50.0%" in summary
        assert "SLA breaches 4" in summary
        assert [row[1] for row in cells(app, "open")] == ["D-room", "F-room"]
        alerts = cells(app, "alerts")
        assert [row[4] for row in alerts] == ["bob", "not acknowledged", "meg", "not acknowledged"]
        assert cells(app, "staff") == [["ann", "1", "0", "0.0%"], ["bob", "3", "2", "66.7%"]]
        chart = app.screen.query_one("#handover-chart", PlotextPlot)
        await pilot.pause()
        drawn = str(chart.render())
        assert "On time % by category" in drawn
        assert "housekeeping" in drawn and "maintenance" in drawn

        await pilot.press("ctrl+s")
        saved = documents / "frontdesk-handover-period-2026-01-10-2300.md"
        await wait_for(saved.exists, message="not saved")
        text = saved.read_text(encoding="utf-8")
        assert text.startswith("# Handover: Report, 2026-01-10 23:00 to 2026-01-11 07:00")
        assert "- On time: 50.0% (2 of 4 completed)" in text


async def test_colon_handover_opens_the_last_shift_and_s_switches_to_the_current(
    night_server, tmp_path
):
    app = FrontdeskApp(await config_for(night_server, tmp_path, "meg"), bell=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("colon", *"handover", "enter")
        await wait_for(lambda: isinstance(app.screen, HandoverScreen), message="not opened")
        last = app.screen
        await wait_for(lambda: " shift: " in note(app), message=note(app))
        assert isinstance(last, HandoverScreen) and last.report is not None
        handed_over = last.report.shift
        assert last.report.until <= last.report.as_of  # ended: the one handed over
        await pilot.press("s")
        await wait_for(
            lambda: last.report is not None and last.report.until > last.report.as_of,
            message=note(app),
        )
        assert last.report.shift != handed_over
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))


async def test_offline_the_screen_says_the_report_needs_the_server(tmp_path):
    app = offline_app(tmp_path, "meg", Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("colon", *"handover", "enter")
        await wait_for(lambda: isinstance(app.screen, HandoverScreen))
        await wait_for(lambda: "Offline only" in note(app), message=note(app))


async def test_staff_are_told_the_report_is_for_managers(night_server, tmp_path):
    app = FrontdeskApp(await config_for(night_server, tmp_path, "ann"), bell=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("colon", *"handover", "enter")
        await wait_for(lambda: isinstance(app.screen, HandoverScreen))
        await wait_for(lambda: "No report" in note(app), message=note(app))
        assert "403" in note(app)


# -- snapshot --------------------------------------------------------------------------------


async def _seeded(data_dir: Path) -> None:
    store = await open_store(data_dir)
    try:
        await seed_night(store)
    finally:
        await store.close()


def test_handover_screen_of_the_fixed_night(snap_compare, tmp_path, utc_terminal):
    """Summary, the on-time bar chart, still open, breaches and alerts of the fixed night."""
    config = make_config(tmp_path, sla_check_seconds=3600.0, cleanup_seconds=3600.0)
    asyncio.run(_seeded(config.data_dir))
    host = LoopThread()
    try:
        server: FrontdeskServer = host.call(start_server(config))
        try:
            token = host.call(token_for(server, "meg", "meg-pass"))
            engine_config = EngineConfig(
                data_dir=tmp_path / "meg",
                user="meg",
                role=Role.MANAGER,
                server_url=server.url,
                token=token,
            )
            app = FrontdeskApp(engine_config, bell=False)

            async def shown(pilot: Pilot) -> None:
                while not isinstance(pilot.app.screen, QueueScreen):
                    await pilot.pause(0.01)
                engine = app.engine
                assert engine is not None
                screen = HandoverScreen(engine, period=(T0, UNTIL), documents_dir=tmp_path)
                await app.push_screen(screen)
                async with asyncio.timeout(15):
                    while screen.report is None:
                        await pilot.pause(0.02)
                await pilot.pause()

            assert snap_compare(app, terminal_size=(120, 48), run_before=shown)
        finally:
            host.call(server.close())
    finally:
        host.stop()
