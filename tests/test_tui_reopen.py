"""Reopen (completed or cancelled back to pending, with a note saying why): managers only, the
rule book's word, from the queue and the detail screen, offline like every other edit."""

from __future__ import annotations

from dataclasses import replace

from conftest import SIZE, config_for, offline_app, ready, rows, screen_text, toast_texts
from helpers import wait_for
from offline_kit import drained, online

from offline.engine import Engine, EngineConfig
from protocol.models import Request, Role, Status
from tui.app import FrontdeskApp
from tui.screens.detail import DetailScreen
from tui.screens.note_form import NoteForm
from tui.screens.queue import QueueScreen


async def completed(app: FrontdeskApp, room: str = "1204") -> Request:
    """A request taken through to completed (by whoever runs the app)."""
    engine = app.engine
    assert engine is not None
    request = await engine.create_request(
        room=room, category="housekeeping", description="Two extra towels", priority="normal"
    )
    await engine.set_status(request.id, "in_progress")
    return await engine.set_status(request.id, "completed")


def note_error(app: FrontdeskApp) -> str:
    return str(app.screen.query_one("#note-error").render())


async def test_a_manager_reopens_from_the_queue_with_a_note_offline(tmp_path):
    """No server at all: both edits are predicted at once and wait in the outbox."""
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        request = await completed(app)
        await wait_for(lambda: "completed" in "".join(rows(app)))
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, NoteForm), message="no reopen prompt")
        assert "Reopen" in str(app.screen.query_one("#form-title").render())
        await pilot.press(*"guest says the towels never came", "enter")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine is not None
        now = app.engine.get(request.id)
        assert now is not None and now.status is Status.PENDING
        assert [(n.author, n.text) for n in now.notes] == [
            ("meg", "guest says the towels never came")
        ]
        assert app.engine.status.connection == "offline" and app.engine.is_pending(request.id)
        await wait_for(lambda: "pending" in "".join(rows(app)))


async def test_the_reopen_note_is_required_and_nothing_changes_without_it(tmp_path):
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        request = await completed(app)
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, NoteForm))
        await pilot.press("enter")
        await wait_for(lambda: "note is required" in note_error(app))
        assert app.engine is not None
        assert app.engine.get(request.id).status is Status.COMPLETED  # type: ignore[union-attr]
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        assert app.engine.get(request.id).status is Status.COMPLETED  # type: ignore[union-attr]


async def test_a_manager_reopens_a_cancelled_request_from_the_detail_screen(tmp_path):
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        request = await app.engine.create_request(
            room="817", category="maintenance", description="Leak", priority="urgent"
        )
        await app.engine.set_status(request.id, "cancelled")
        await wait_for(lambda: "cancelled" in "".join(rows(app)))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"cancelled by mistake", "enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        now = app.engine.get(request.id)
        assert now is not None and now.status is Status.PENDING
        assert [n.text for n in now.notes] == ["cancelled by mistake"]
        await wait_for(lambda: "cancelled by mistake" in screen_text(app.export_screenshot()))


async def test_staff_are_refused_with_the_rule_books_reason_before_typing_a_note(tmp_path):
    app = offline_app(tmp_path, user="ann", role=Role.STAFF)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(app, pilot)
        request = await completed(app)
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("R")
        await wait_for(lambda: any("only a manager may reopen" in t for t in toast_texts(app)))
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("R")
        await wait_for(lambda: len(toast_texts(app)) >= 2)
        assert isinstance(app.screen, DetailScreen)
        assert app.engine is not None
        now = app.engine.get(request.id)
        assert now is not None and now.status is Status.COMPLETED and not now.notes


async def test_an_open_request_cannot_be_reopened(tmp_path):
    """The rule book's other refusal (not completed nor cancelled) is shown as it says it."""
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await app.engine.create_request(
            room="12", category="housekeeping", description="towels", priority="normal"
        )
        await wait_for(lambda: len(rows(app)) == 1)
        await pilot.press("R")
        await wait_for(lambda: any("request is already pending" in t for t in toast_texts(app)))
        assert isinstance(app.screen, QueueScreen)


async def test_question_mark_lists_reopen_with_its_id(tmp_path):
    app = offline_app(tmp_path, user="meg", role=Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await wait_for(lambda: "queue.reopen" in [r[2] for r in getattr(app.screen, "rows", [])])


async def synced(config: EngineConfig) -> Engine:
    """An engine on ``config``, online, caught up and with nothing left in its outbox."""
    engine = await Engine.open(config)
    await engine.start()
    await wait_for(lambda: online(engine) and drained(engine) and not engine.status.catching_up)
    return engine


async def test_a_reopen_made_offline_reaches_the_server_and_other_terminals(server, tmp_path):
    """Meg reopens on a terminal cut off from the server; once it connects, the status change
    and her note arrive, in that order, and Bob's terminal shows both."""
    meg = await config_for(server, tmp_path, "meg")
    engine = await synced(meg)
    request = await engine.create_request(
        room="1204", category="housekeeping", description="towels", priority="normal"
    )
    await engine.set_status(request.id, "in_progress")
    await engine.set_status(request.id, "completed")
    await wait_for(lambda: drained(engine))
    await engine.close()

    app = FrontdeskApp(replace(meg, server_url=None))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "completed" in "".join(rows(app)))
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, NoteForm))
        await pilot.press(*"towels never came", "enter")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))

    back = await synced(meg)  # the same replica, online again: the outbox drains
    await back.close()
    bob = await synced(await config_for(server, tmp_path, "bob"))
    try:
        seen = bob.get(request.id)
        assert seen is not None and seen.status is Status.PENDING
        assert [(n.author, n.text) for n in seen.notes] == [("meg", "towels never came")]
    finally:
        await bob.close()
