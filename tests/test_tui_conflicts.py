"""A clash with someone else's edit waits in the conflicts view until a person picks."""

from __future__ import annotations

from conftest import SIZE, ready, screen_text, status_text, table_text
from helpers import wait_for
from offline_kit import drained, new_request, open_engine
from textual.widgets import Select

from offline.engine import EngineConfig
from protocol.models import Role, Status
from tui.app import FrontdeskApp
from tui.screens.conflict_form import ConflictForm
from tui.screens.conflicts import ConflictsScreen
from tui.screens.performance import PerformanceScreen


async def bob_with_a_parked_status_conflict(server, tmp_path) -> tuple[str, EngineConfig]:
    """Bob acknowledged offline while Ann started the same request: Bob's edit is parked."""
    ann = await open_engine(tmp_path, server, "ann")
    request = await new_request(ann, room="1204", description="towels")
    await wait_for(lambda: drained(ann), message="create acked")
    bob = await open_engine(tmp_path, server, "bob")
    await wait_for(lambda: bob.get(request.id) is not None, message="bob has it")
    await bob.close()
    offline_bob = await open_engine(tmp_path, None, "bob", start=False)
    await offline_bob.set_status(request.id, "acknowledged")
    await offline_bob.close()
    await ann.set_status(request.id, "in_progress")
    await wait_for(lambda: drained(ann), message="ann's edit first")
    await ann.close()
    bob = await open_engine(tmp_path, server, "bob")
    await wait_for(lambda: len(bob.conflicts()) == 1, message="bob's edit parked")
    config = bob.config
    await bob.close()
    return request.id, config


async def test_a_parked_conflict_is_marked_and_resolved_by_keeping_theirs(server, tmp_path):
    rid, config = await bob_with_a_parked_status_conflict(server, tmp_path)
    app = FrontdeskApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "1 conflicts" in status_text(app), message=status_text(app))
        row = next(line for line in table_text(app) if "1204" in line)
        assert "≠" in row
        await pilot.press("C")
        await wait_for(lambda: isinstance(app.screen, ConflictsScreen))
        await pilot.pause()
        svg = app.export_screenshot()
        assert "acknowledged" in svg and "in_progress" in svg
        await pilot.press("t")
        assert app.engine is not None
        await wait_for(lambda: app.engine.conflicts() == [], message="conflict settled")
        assert app.engine.get(rid).status == Status.IN_PROGRESS
        await wait_for(lambda: "conflicts" not in status_text(app))


async def test_a_parked_conflict_says_why_above_its_mine_and_theirs_table(server, tmp_path):
    _rid, config = await bob_with_a_parked_status_conflict(server, tmp_path)
    app = FrontdeskApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "1 conflicts" in status_text(app), message=status_text(app))
        await pilot.press("C")
        await wait_for(lambda: isinstance(app.screen, ConflictsScreen))
        await pilot.pause()
        lines = screen_text(app.export_screenshot()).splitlines()
        why = next(i for i, line in enumerate(lines) if "changed by someone else" in line)
        assert "mine" not in lines[why], lines[why]
        header = lines[why + 1].split()
        assert header[:3] == ["field", "mine", "theirs"], lines[why + 1]
        mine_and_theirs = lines[why + 2]
        assert "acknowledged" in mine_and_theirs and "in_progress" in mine_and_theirs


async def test_the_performance_panel_says_its_server_figures_are_missing_offline(tmp_path):
    app = FrontdeskApp(EngineConfig(data_dir=tmp_path / "ann", user="ann", role=Role.STAFF))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("P")
        await wait_for(lambda: isinstance(app.screen, PerformanceScreen))
        note = app.screen.query_one("#server-note")
        await wait_for(lambda: "offline only" in str(note.render()), message=str(note.render()))


async def test_the_performance_panel_shows_server_figures_to_a_manager(server, tmp_path):
    from test_tui_live import config_for

    app = FrontdeskApp(await config_for(server, tmp_path, "meg"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "online" in status_text(app))
        await pilot.press("P")
        await wait_for(lambda: isinstance(app.screen, PerformanceScreen))
        value = app.screen.query_one("#server-connections .metric-value")
        await wait_for(lambda: str(value.render()) not in ("—", ""), message="no figures")
        assert int(str(value.render())) >= 1


async def test_a_conflict_is_settled_field_by_field_with_an_edited_value(server, tmp_path):
    rid, config = await bob_with_a_parked_status_conflict(server, tmp_path)
    app = FrontdeskApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("C")
        await wait_for(lambda: isinstance(app.screen, ConflictsScreen))
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, ConflictForm))
        form = app.screen
        assert isinstance(form, ConflictForm)
        assert form.values() == {"status": "acknowledged"}
        form.query_one("#field-status", Select).value = "completed"
        await pilot.press("ctrl+s")
        assert app.engine is not None
        await wait_for(lambda: app.engine.conflicts() == [], message="settled")
        assert app.engine.get(rid).status == Status.COMPLETED
        await wait_for(lambda: app.engine.status.pending == 0, message="acked by the server")
