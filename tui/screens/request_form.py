"""The new-request and edit-request form.

The form has no validation rules of its own: it hands what was typed to the engine, whose local
prediction runs the shared mutators (``protocol.mutators.parse_args``) and raises
``offline.errors.Rejected`` with a reason per field. Those reasons are shown next to their
fields, so the form says exactly what the server would say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from offline.errors import Rejected
from protocol.models import Category, Priority, Request
from protocol.rules import Rejection
from tui.text import literal
from tui.widgets.cells import category_label
from tui.widgets.safe_input import SafeInput

Submit = Callable[[dict[str, Any]], Awaitable[Request]]
"""Creates or updates the request from the form's values; raises ``Rejected`` when refused."""

FIELDS: tuple[tuple[str, str], ...] = (
    ("room", "Room"),
    ("description", "Description"),
    ("category", "Category"),
    ("priority", "Priority"),
    ("guest_name", "Guest"),
)


def field_of(key: str) -> str:
    """The form field a rejection key names (``changes.room`` → ``room``)."""
    return key.removeprefix("changes.")


class RequestForm(ModalScreen[Request | None]):
    """Room, description, category, priority and guest; Ctrl+S (or Enter on Guest) saves."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", priority=True, id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, submit: Submit, *, request: Request | None = None) -> None:
        super().__init__()
        self.submit = submit
        self.request = request
        """The request being edited, or None for a new one."""

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="form-box"):
            title = "New request" if r is None else f"Edit request {r.number or ''}".rstrip()
            yield Label(title, id="form-title")
            for key, label in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(label, classes="form-label")
                    yield self._input(key)
                    yield Static("", id=f"{key}-error", classes="form-error")
            yield Static("", id="form-error", classes="form-error")
            yield Label("Ctrl+S save · Esc cancel · Tab next field", id="form-help")

    def _input(self, key: str) -> Input | Select:
        r = self.request
        if key == "category":
            return Select(
                [(category_label(c.value), c.value) for c in Category],
                value=r.category.value if r else Category.HOUSEKEEPING.value,
                allow_blank=False,
                id="category",
            )
        if key == "priority":
            return Select(
                [(p.value, p.value) for p in Priority],
                value=r.priority.value if r else Priority.NORMAL.value,
                allow_blank=False,
                id="priority",
            )
        value = (getattr(r, key) or "") if r else ""
        placeholder = {"room": "e.g. 1204", "guest_name": "optional"}.get(key, "")
        return SafeInput(value=value, placeholder=placeholder, id=key)

    def on_mount(self) -> None:
        # At once, not through the app's queue (``Widget.focus``): keys typed right after the
        # key that opened the form are queued there already (``tui.keys_in_order``).
        self.set_focus(self.query_one("#room", Input))

    def values(self) -> dict[str, Any]:
        """What was typed, exactly (an empty guest name means no guest name)."""
        guest = self.query_one("#guest_name", Input).value
        return {
            "room": self.query_one("#room", Input).value,
            "description": self.query_one("#description", Input).value,
            "category": self.query_one("#category", Select).value,
            "priority": self.query_one("#priority", Select).value,
            "guest_name": guest or None,
        }

    @on(Input.Submitted)
    async def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "guest_name":
            await self.action_submit()
        else:
            self.focus_next()

    async def action_submit(self) -> None:
        self._show(None)
        try:
            request = await self.submit(self.values())
        except Rejected as refused:
            self._show(refused.rejection)
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _show(self, rejection: Rejection | None) -> None:
        """Put each reason next to its field; reasons for no field go under the form."""
        by_field: dict[str, str] = {}
        other: list[str] = []
        if rejection is not None:
            for key, why in rejection.fields.items():
                name = field_of(key)
                if name in dict(FIELDS):
                    by_field[name] = why
                else:
                    other.append(f"{key}: {why}")
            if not rejection.fields:
                other.append(rejection.message)
        first_bad: str | None = None
        for key, _label in FIELDS:
            why = by_field.get(key)
            self.query_one(f"#{key}-error", Static).update(literal(why or ""))
            self.query_one(f"#{key}").set_class(why is not None, "field-invalid")
            if why and first_bad is None:
                first_bad = key
        self.query_one("#form-error", Static).update(literal("; ".join(other)))
        if first_bad is not None:
            self.query_one(f"#{first_bad}").focus()

    def error_for(self, key: str) -> str:
        """The reason shown next to field ``key`` (empty when none), for tests and screenshots."""
        return str(self.query_one(f"#{key}-error", Static).render())
