"""At 80x24, the size of many front-desk terminal windows, every dialog keeps its keys line in
view (the save hint was cut off the bottom of the new-request form)."""

from __future__ import annotations

import re

from conftest import offline_app, ready, screen_text
from helpers import wait_for

from tui.app import FrontdeskApp
from tui.screens.help import HelpScreen
from tui.screens.note_form import NoteForm
from tui.screens.request_form import RequestForm

SMALL = (80, 24)


def keys_line_shown(app: FrontdeskApp, text: str) -> bool:
    """The dialog's keys line lies wholly on screen and its text is drawn."""
    line = app.screen.query_one("#form-help")
    inside = app.screen.region.contains_region(line.region) and line.region.height > 0
    return inside and text in screen_text(app.export_screenshot())


async def test_the_new_request_form_with_hints_and_a_duplicate_keeps_its_save_hint(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await app.engine.create_request(
            room="817",
            category="maintenance",
            description="Leak under the bathroom sink",
            priority="high",
        )
        await app.engine.triage().settled()
        await pilot.press("n", *"817", "tab", *"leak under the bathroom sink again")
        form = app.screen
        assert isinstance(form, RequestForm)
        await wait_for(lambda: "Looks like" in form.duplicate_warning())
        await wait_for(lambda: keys_line_shown(app, "Ctrl+S save"))
        await pilot.press("ctrl+s")  # a room and a description: saved
        await wait_for(lambda: not isinstance(app.screen, RequestForm))


async def test_help_and_the_note_form_keep_their_keys_line(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await wait_for(lambda: keys_line_shown(app, "Esc closes"))
        await pilot.press("escape")
        assert app.engine is not None
        await app.engine.create_request(
            room="12", category="housekeeping", description="towels", priority="normal"
        )
        await pilot.pause()
        await pilot.press("enter", "n")
        await wait_for(lambda: isinstance(app.screen, NoteForm))
        await wait_for(lambda: keys_line_shown(app, "Enter save"))


def warning_in_view(app: FrontdeskApp) -> bool:
    """The duplicate warning lies wholly inside the form, above its keys line."""
    form = app.screen
    warning = form.query_one("#form-duplicate")
    box = form.query_one("#form-box")
    keys = form.query_one("#form-help")
    seen = box.content_region.intersection(warning.region)
    return warning.region.height > 0 and seen == warning.region and seen.bottom <= keys.region.y


async def test_a_duplicate_warning_that_comes_back_is_scrolled_into_view(tmp_path):
    """With the due field the form scrolls at 80x24: the warning, named, then gone while the
    description is typed on, then named again, must not stay hidden under the keys line (it
    did: the form was asked to scroll before the warning had a size)."""
    app = offline_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        await app.engine.create_request(
            room="817",
            category="maintenance",
            description="Leak under the bathroom sink",
            priority="high",
        )
        await app.engine.triage().settled()
        await pilot.press("n", *"817", "tab")
        form = app.screen
        assert isinstance(form, RequestForm)
        named = ""
        for ch in "leak under the bathroom sink again":
            await pilot.press(ch)
            named += "x" if form.duplicate is not None else "."
        assert re.search(r"x+\.+x+$", named), f"named, gone, named again: {named}"
        await wait_for(lambda: warning_in_view(app), message="warning under the keys line")
