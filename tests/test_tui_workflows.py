"""Everyday workflows at the desk, offline only: filter, views, bulk changes, detail and notes."""

from __future__ import annotations

from conftest import (
    SIZE,
    log_request,
    offline_app,
    ready,
    rows,
    screen_text,
    status_text,
    table_text,
)
from helpers import wait_for

from frontdesk.tui_settings import app_options, load_tui_settings
from protocol.models import Role, Status
from tui.app import FrontdeskApp
from tui.screens.assign_form import AssignForm
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.screens.note_form import NoteForm
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm


async def seed(app, *rooms_and_descriptions: tuple[str, str], priority: str = "normal"):
    assert app.engine is not None
    made = []
    for room, description in rooms_and_descriptions:
        made.append(
            await app.engine.create_request(
                room=room, category="housekeeping", description=description, priority=priority
            )
        )
    return made


async def test_slash_filters_as_you_type_and_escape_clears_it(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await seed(app, ("1204", "towels"), ("817", "Leak under the sink"), ("12", "late checkout"))
        await wait_for(lambda: len(rows(app)) == 3)
        await pilot.press("slash", *"leak")
        await wait_for(lambda: len(rows(app)) == 1, message="\n".join(rows(app)))
        assert "817" in rows(app)[0]
        await pilot.press("escape")
        await wait_for(lambda: len(rows(app)) == 3)


async def test_colon_jumps_to_a_view_by_name(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await seed(app, ("1204", "towels"))
        await seed(app, ("817", "flood"), priority="urgent")
        await wait_for(lambda: len(rows(app)) == 2)
        await pilot.press("colon", *"urg", "enter")
        await wait_for(lambda: len(rows(app)) == 1)
        assert "817" in rows(app)[0]
        assert "Urgent & overdue" in app.screen.sub_title


async def test_a_manager_marks_rows_with_space_and_acknowledges_them_at_once(tmp_path):
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        made = await seed(app, ("1", "a"), ("2", "b"), ("3", "c"))
        await wait_for(lambda: len(rows(app)) == 3)
        await pilot.press("home", "space", "space")
        await wait_for(lambda: "2 marked" in status_text(app))
        await pilot.press("a")
        await pilot.pause()
        assert app.engine is not None
        statuses = sorted(app.engine.get(r.id).status.value for r in made)
        assert statuses == ["acknowledged", "acknowledged", "pending"]
        await wait_for(lambda: "marked" not in status_text(app))


async def test_enter_opens_the_detail_and_n_adds_a_note_there(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        (request,) = await seed(app, ("1204", "[red]towels[/]"))
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("n")
        await wait_for(lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"guest called again", "enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        assert app.engine is not None
        notes = app.engine.get(request.id).notes
        assert [(n.author, n.text) for n in notes] == [("ann", "guest called again")]
        shown = screen_text(app.export_screenshot())
        assert "guest called again" in shown and "[red]towels[/]" in shown
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))


async def test_an_empty_note_is_refused_with_the_reason(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await seed(app, ("1204", "towels"))
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("enter", "n", "enter")
        await pilot.pause()
        assert isinstance(app.screen, NoteForm)
        assert "note is required" in str(app.screen.query_one("#note-error").render())


async def test_question_mark_lists_the_bindings_with_their_ids(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        ids = [binding_id for _key, _what, binding_id in app.screen.rows]
        assert {"queue.new", "queue.acknowledge", "queue.filter", "app.quit"} <= set(ids)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))


async def test_a_terminal_restarted_without_a_server_still_shows_its_pending_edits(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await log_request(pilot, "1204", "towels")
        await wait_for(lambda: "1 pending" in status_text(app))
    again = offline_app(tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        await wait_for(lambda: any("1204" in line for line in table_text(again)))
        assert "1 pending" in status_text(again)
        row = next(line for line in table_text(again) if "1204" in line)
        assert "⟳" in row
        assert again.engine is not None
        assert again.engine.requests()[0].status == Status.PENDING


async def test_shift_a_assigns_to_a_typed_name_and_refuses_an_invalid_one(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        (request,) = await seed(app, ("1204", "towels"))
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("A")
        await wait_for(lambda: isinstance(app.screen, AssignForm))
        await pilot.press(*"no spaces!", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#assign-error").render())
        assert "assignee must be" in error
        await pilot.press(*["backspace"] * 10, *"bob", "enter")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine is not None and app.engine.get(request.id).assignee == "bob"
        await wait_for(lambda: " bob " in rows(app)[0])


async def test_keys_are_remapped_by_binding_id(tmp_path):
    config = offline_app(tmp_path).engine_config
    app = FrontdeskApp(config, keymap={"queue.new": "f2"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await wait_for(lambda: isinstance(app.screen, RequestForm))


async def test_the_chosen_theme_is_remembered_for_the_next_start(tmp_path):
    settings_path = tmp_path / "tui.toml"
    config = offline_app(tmp_path).engine_config

    def start() -> FrontdeskApp:
        return FrontdeskApp(config, **app_options(load_tui_settings(settings_path), settings_path))

    app = start()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.theme = "nord"
        await pilot.pause()
    again = start()
    async with again.run_test(size=SIZE) as pilot:
        await ready(again, pilot)
        assert again.theme == "nord"


async def test_e_edits_a_request_and_sends_only_what_changed(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        (request,) = await seed(app, ("1204", "towels"))
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, RequestForm))
        await pilot.press("end", *["backspace"] * 4, *"817", "ctrl+s")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine is not None
        edited = app.engine.get(request.id)
        assert edited.room == "817" and edited.description == "towels"
        (mutation,) = [m for m in app.engine.pending_mutations() if m.name == "update_request"]
        assert mutation.args["changes"] == {"room": "817"}


async def test_o_and_a_click_on_a_column_title_sort_the_queue(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await seed(app, ("300", "b"), ("100", "c"), ("200", "a"))
        await wait_for(lambda: len(rows(app)) == 3)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await pilot.click("#requests", offset=(12, 0))  # the Room title
        await wait_for(lambda: screen.model.sort_column == "room")
        assert [line.split()[1] for line in rows(app)] == ["100", "200", "300"]
        await pilot.press("O")
        await wait_for(lambda: [line.split()[1] for line in rows(app)] == ["300", "200", "100"])
        await pilot.press("o")
        await wait_for(lambda: screen.model.sort_column == "category")


async def test_a_large_queue_paints_the_newest_rows_first_then_all(tmp_path, monkeypatch):
    from offline.engine import Engine
    from tui.screens import queue

    monkeypatch.setattr(queue, "EAGER_ROWS", 3)
    monkeypatch.setattr(queue, "FIRST_PAINT_ROWS", 2)
    config = offline_app(tmp_path).engine_config
    engine = await Engine.open(config)
    for i in range(6):
        await engine.create_request(
            room=str(100 + i), category="other", description="x", priority="low"
        )
    await engine.close()
    app = FrontdeskApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: len(rows(app)) == 6, message="\n".join(rows(app)))
        assert rows(app)[0].split()[1] == "105", "newest first"
        assert "loading" not in app.screen.sub_title
