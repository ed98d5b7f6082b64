"""Snapshot tests: each screen looks as approved (``pytest --snapshot-update`` after a review).

Offline-only engines with no rows keep the screens free of clocks and counters that move.
"""

from __future__ import annotations

from textual.pilot import Pilot

from offline.engine import EngineConfig
from protocol.models import Role
from tui.app import FrontdeskApp
from tui.screens.queue import QueueScreen

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
