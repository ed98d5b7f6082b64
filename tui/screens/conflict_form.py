"""Settle a parked conflict field by field: start from my values, see theirs, save the mix.

The engine re-issues the edited values on the server's current version
(``Engine.resolve_conflict(id, "mine", edited=...)``); the rule book's reasons show next to
their fields when it refuses them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from offline.errors import Rejected
from protocol.models import Category, Priority, Request, Status
from tui.text import literal
from tui.widgets.safe_input import SafeInput

ENUM_FIELDS: dict[str, type[Enum]] = {"status": Status, "priority": Priority, "category": Category}


class ConflictForm(ModalScreen[Request | None]):
    """One row per field: my value (editable) and theirs (for reference)."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", priority=True, id="conflict_form.save"),
        Binding("escape", "cancel", "Cancel", id="conflict_form.cancel"),
    ]

    def __init__(
        self,
        save: Callable[[dict[str, Any]], Awaitable[Request | None]],
        mine: dict[str, Any],
        theirs: dict[str, Any],
    ) -> None:
        super().__init__()
        self.save = save
        self.mine = mine
        self.theirs = theirs

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Label(
                "Settle the conflict: edit my values, theirs shown for reference", id="form-title"
            )
            for key, value in self.mine.items():
                with Horizontal(classes="form-row"):
                    yield Label(key.replace("_", " "), classes="form-label")
                    yield self._field(key, value)
                    theirs = literal(f"theirs: {self.theirs.get(key)}")
                    yield Static(theirs, id=f"{key}-theirs", classes="form-error conflict-theirs")
                yield Static("", id=f"{key}-error", classes="form-error")
            yield Static("", id="form-error", classes="form-error")
            yield Label("Ctrl+S save mine as edited · Esc back", id="form-help")

    def _field(self, key: str, value: Any) -> Input | Select[str]:
        enum = ENUM_FIELDS.get(key)
        if enum is not None:
            return Select(
                [(m.value.replace("_", " "), m.value) for m in enum],
                value=str(value) if value is not None else Select.BLANK,
                id=f"field-{key}",
            )
        return SafeInput(value="" if value is None else str(value), id=f"field-{key}")

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in self.mine:
            widget = self.query_one(f"#field-{key}")
            if isinstance(widget, Select):
                values[key] = None if widget.value == Select.BLANK else widget.value
            else:
                assert isinstance(widget, Input)
                values[key] = widget.value if widget.value or key != "assignee" else None
        return values

    async def action_submit(self) -> None:
        for key in self.mine:
            self.query_one(f"#{key}-error", Static).update("")
        try:
            request = await self.save(self.values())
        except Rejected as refused:
            other = []
            for key, why in refused.fields.items():
                name = key.removeprefix("changes.")
                if name in self.mine:
                    self.query_one(f"#{name}-error", Static).update(literal(why))
                else:
                    other.append(why)
            if not refused.fields:
                other.append(str(refused))
            self.query_one("#form-error", Static).update(literal("; ".join(other)))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
