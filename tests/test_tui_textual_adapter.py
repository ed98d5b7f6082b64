"""``tui.textual_adapter`` still does what it says on this Textual: these fail when Textual
renames or changes the private names it uses (``App._check_bindings``,
``Input._position_to_cell``), before a user meets a key that no longer runs or a cursor drawn
beside its character."""

from __future__ import annotations

import inspect

from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

from tui.textual_adapter import CellMeasuredInput, run_key_bindings
from tui.widgets.safe_input import SafeInput


def test_the_private_names_are_still_there_with_the_same_parameters():
    assert list(inspect.signature(App._check_bindings).parameters) == ["self", "key", "priority"]
    assert list(inspect.signature(Input._position_to_cell).parameters) == ["self", "position"]


class Form(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    def compose(self) -> ComposeResult:
        yield Input(id="field")

    def action_close(self) -> None:
        self.app.ran.append("form escape")  # type: ignore[attr-defined]


class Bound(App[None]):
    BINDINGS = [
        Binding("ctrl+q", "record('app ctrl+q')", "Quit", priority=True),
        Binding("f2", "record('app f2')", "F2"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def action_record(self, what: str) -> None:
        self.ran.append(what)


async def test_bindings_run_in_textuals_order_over_a_modal_form():
    app = Bound()
    async with app.run_test() as pilot:
        await app.push_screen(Form())
        await pilot.pause()
        assert await run_key_bindings(app, "ctrl+q", priority=True)
        assert not await run_key_bindings(app, "escape", priority=True)
        assert await run_key_bindings(app, "escape", priority=False)
        # The app's own non-priority keys stop at a modal screen; an Input's typing key is no
        # binding at all.
        assert not await run_key_bindings(app, "f2", priority=False)
        assert not await run_key_bindings(app, "a", priority=False)
        assert app.ran == ["app ctrl+q", "form escape"]


class OneField(App[None]):
    def __init__(self, make: type[Input], value: str) -> None:
        super().__init__()
        self.make, self.value = make, value

    def compose(self) -> ComposeResult:
        yield self.make(value=self.value)


async def cursor_cell(make: type[Input], value: str) -> int:
    """Where the terminal cursor stands, in cells from the field's first character, with the
    cursor after the last character."""
    app = OneField(make, value)
    async with app.run_test() as pilot:
        field = app.query_one(Input)
        field.focus()
        field.cursor_position = len(value)
        await pilot.pause()
        return field.cursor_screen_offset.x - field.content_region.x + field.scroll_offset.x


async def test_the_cursor_stands_after_the_last_stand_in_drawn():
    """ESC, a right-to-left override and a zero-width space take no cell as stored but one
    each as drawn: the terminal cursor goes where the drawing puts it."""
    value = "a\x1b]52;\u202eb\u200bc"
    assert await cursor_cell(SafeInput, value) == await cursor_cell(SafeInput, "x" * len(value))


async def test_a_plain_cell_measured_input_measures_as_textual_does():
    wide = "房间 12"
    assert await cursor_cell(CellMeasuredInput, wide) == await cursor_cell(Input, wide)
    assert await cursor_cell(Input, wide) == await cursor_cell(Input, "x" * cell_len(wide))
