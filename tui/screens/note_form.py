"""Add a note to a request: one key (``n`` on the detail screen), type, Enter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from offline.errors import Rejected
from protocol.models import Request
from tui.text import literal
from tui.widgets.safe_input import SafeInput


class NoteForm(ModalScreen[Request | None]):
    """One line of text; the reason shows under it when the rule book refuses it."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", priority=True, id="note.save"),
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
    ]

    def __init__(
        self,
        submit: Callable[[str], Awaitable[Request]],
        *,
        title: str = "Add a note",
        placeholder: str = "what happened, who called, what is next",
    ) -> None:
        """``title`` and ``placeholder`` say what the note is for (e.g. why a reopen)."""
        super().__init__()
        self.submit = submit
        self.title_text = title
        self.prompt_placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Label(self.title_text, id="form-title")
            yield SafeInput(id="note", placeholder=self.prompt_placeholder)
            yield Static("", id="note-error", classes="form-error")
            yield Label("Enter save · Esc cancel", id="form-help")

    def on_mount(self) -> None:
        self.set_focus(self.query_one(Input))  # at once: see ``tui.keys_in_order``

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_submit()

    async def action_submit(self) -> None:
        try:
            request = await self.submit(self.query_one(Input).value)
        except Rejected as refused:
            why = refused.fields.get("text") or str(refused)
            self.query_one("#note-error", Static).update(literal(why))
            self.query_one(Input).add_class("field-invalid")
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
