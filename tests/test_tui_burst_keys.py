"""Keys that arrive in one burst land where they would have landed typed one by one.

A terminal delivers whatever was typed (or pasted, or sent by ``tmux send-keys``) since the
last read in one go. Textual queues each key on the focused widget and runs bindings only
when the key has bubbled back up to the app, so without care a Tab or Enter moves focus after
the next characters were already queued on the old field, and a priority Ctrl+S saves before
the field has handled the text before it. These tests post the keys the way the terminal
driver does, all at once, without waiting in between (``Pilot.press`` waits after each key).
"""

from __future__ import annotations

import asyncio

from conftest import SIZE, offline_app, open_form, ready, rows
from helpers import wait_for
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget

from tui import keys_in_order
from tui.keys_in_order import KeysInOrderApp
from tui.screens.request_form import RequestForm


def burst(app, *keys: str | events.Paste) -> None:
    """Post ``keys`` to the app in one go, as the terminal driver does with one read."""
    for key in keys:
        if isinstance(key, events.Paste):
            app.post_message(key)
        elif len(key) == 1:
            app.post_message(events.Key(key, key))
        else:
            app.post_message(events.Key(key, "\t" if key == "tab" else None))


async def test_a_burst_with_tab_and_ctrl_s_logs_the_request_as_typed(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        burst(app, *"1204", "tab", *"Two extra towels", "ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, RequestForm), message="form stays open")
        assert app.engine is not None
        [request] = app.engine.requests()
        assert (request.room, request.description) == ("1204", "Two extra towels")
        await wait_for(lambda: any("1204" in line for line in rows(app)))


async def test_enter_in_a_burst_moves_to_the_next_field_before_the_next_keys(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        burst(app, *"817", "enter", *"Leak", "backspace", "k")
        await wait_for(lambda: form.values()["description"] == "Leak", message=str(form.values()))
        assert form.values()["room"] == "817"


async def test_pasted_text_is_in_the_field_before_a_ctrl_s_sent_right_after_it(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        burst(app, events.Paste("1204"), "tab", events.Paste("Late checkout"), "ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, RequestForm), message="form stays open")
        assert app.engine is not None
        [request] = app.engine.requests()
        assert (request.room, request.description) == ("1204", "Late checkout")


async def test_a_burst_typed_from_the_queue_lands_in_the_form_it_opens(tmp_path):
    """``n`` and the request typed right after it, in one read: the keys after ``n`` reached
    the queue underneath (quick views; Tab moved the focus into the filter bar, which then
    swallowed every key until Esc) because the form took its focus only after them."""
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, "n", *"1204", "tab", *"Typed fast", "ctrl+s")
        await wait_for(lambda: app.engine is not None and app.engine.requests() != [])
        assert app.engine is not None
        [request] = app.engine.requests()
        assert (request.room, request.description) == ("1204", "Typed fast")
        await wait_for(lambda: not isinstance(app.screen, RequestForm), message="form stays open")
        burst(app, "n", *"817", "tab", *"Second", "ctrl+s")
        await wait_for(lambda: len(app.engine.requests()) == 2, message="second not logged")
        assert {r.room for r in app.engine.requests()} == {"1204", "817"}


class Slow(Widget, can_focus=True):
    """Takes its time over each key (until the test releases it) and stops none."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def on_key(self, event: events.Key) -> None:
        await self.release.wait()


class SlowFieldApp(KeysInOrderApp[None]):
    BINDINGS = [
        Binding("f5", "record('f5')", "F5"),
        Binding("f6", "record('f6')", "F6", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Slow()

    def on_mount(self) -> None:
        self.query_one(Slow).focus()

    def action_record(self, key: str) -> None:
        self.ran.append(key)


async def test_a_key_handled_too_slowly_to_wait_for_still_runs_its_binding(monkeypatch):
    """The app stops waiting for a widget after ``SETTLE_SECONDS`` and reads the next key; the
    slow key's own binding still runs when it comes back up, late, as Textual would run it."""
    monkeypatch.setattr(keys_in_order, "SETTLE_SECONDS", 0.05)
    app = SlowFieldApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        burst(app, "f5", "f6")
        await wait_for(lambda: app.ran == ["f6"], message=str(app.ran))  # moved on past f5
        app.query_one(Slow).release.set()
        await wait_for(lambda: app.ran == ["f6", "f5"], message=str(app.ran))
