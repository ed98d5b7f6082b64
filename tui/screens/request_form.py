"""The new-request and edit-request form.

The form has no validation rules of its own: it hands what was typed to the engine, whose local
prediction runs the shared mutators (``protocol.mutators.parse_args``) and raises
``offline.errors.Rejected`` with a reason per field. Those reasons are shown next to their
fields, so the form says exactly what the server would say.

A new request also gets the triage assistant (``offline.triage``, through the engine): while
the description is typed, a suggested category and priority appear beside those fields (Ctrl+T
takes them, never over a field the person set), and an open request of the same room with a
similar description is named before saving (Enter opens it, Ctrl+S logs anyway).

The due time is read as a desk writes it (``tui.due_input``: ``06:00``, ``+45m``, ``tomorrow
07:30``); beside the field the form says how it read it ("tomorrow 06:00") or why it cannot,
while it is typed. Empty: the SLA table decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from offline.errors import Rejected
from protocol.models import Category, Priority, Request, utcnow
from protocol.rules import Code, Rejection
from tui.due_input import BadDue, Due, describe, parse_due, shown
from tui.text import literal
from tui.widgets.cells import category_label
from tui.widgets.safe_input import SafeInput

if TYPE_CHECKING:
    from offline.engine import Engine
    from offline.triage import Suggestion, Triage

Submit = Callable[[dict[str, Any]], Awaitable[Request]]
"""Creates or updates the request from the form's values; raises ``Rejected`` when refused."""

FIELDS: tuple[tuple[str, str], ...] = (
    ("room", "Room"),
    ("description", "Description"),
    ("category", "Category"),
    ("priority", "Priority"),
    ("due_at", "Due"),
    ("guest_name", "Guest"),
)
SUGGESTED = ("category", "priority")
"""Fields the triage assistant suggests a value for."""
HINTED = (*SUGGESTED, "due_at")
"""Fields with a hint beside them (shown in place of an empty error)."""
DUE_PLACEHOLDER = "06:00, +45m, tomorrow 07:30"
NO_DUE = "empty: SLA deadline"
"""Beside an empty due field (muted), where a typed one is read back."""


def field_of(key: str) -> str:
    """The form field a rejection key names (``changes.room`` → ``room``)."""
    return key.removeprefix("changes.")


class RequestForm(ModalScreen[Request | None]):
    """Room, description, category, priority and guest; Ctrl+S (or Enter on Guest) saves."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Save", priority=True, id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+t", "take_suggestion", "Take suggestion", priority=True, id="form.suggest"),
    ]

    def __init__(
        self,
        submit: Submit,
        *,
        request: Request | None = None,
        open_request: Callable[[Request], None] | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.zone = zone
        """The hotel's time zone due times are read in (None: the terminal's)."""
        self.submit = submit
        self.request = request
        """The request being edited, or None for a new one."""
        self.open_request = open_request
        """Shows a request (the likely duplicate) once this form has closed; None: no such
        offer. The screen that opens the form says how, so the form imports no screen."""
        self.suggestion: Suggestion | None = None
        """What the triage assistant suggests for the description as typed now."""
        self.duplicate: Request | None = None
        """The open request of the same room this one seems to repeat (named before saving)."""
        self._engine: Engine | None = None
        self._triage: Triage | None = None
        self._chosen: set[str] = set()
        """Suggested fields the person set (or took the suggestion for): never changed."""
        self._placed: dict[str, Any] = {}
        """Values of the suggested fields that the form itself put there."""

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
                    if key in HINTED:
                        yield Static("", id=f"{key}-hint", classes="form-hint")
            yield DuplicateWarning("", id="form-duplicate")
            yield Static("", id="form-error", classes="form-error")
            yield Label("Ctrl+S save · Esc cancel · Tab next field", id="form-help")

    def _input(self, key: str) -> Input | Select[str]:
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
        if key == "due_at":
            return SafeInput(value=self._due_shown, placeholder=DUE_PLACEHOLDER, id=key)
        value = (getattr(r, key) or "") if r else ""
        placeholder = {"room": "e.g. 1204", "guest_name": "optional"}.get(key, "")
        return SafeInput(value=value, placeholder=placeholder, id=key)

    def on_mount(self) -> None:
        # At once, not through the app's queue (``Widget.focus``): keys typed right after the
        # key that opened the form are queued there already (``tui.keys_in_order``).
        self.set_focus(self.query_one("#room", Input))
        self._due_typed()
        if self.request is None:
            self._start_triage()

    # -- triage: suggestions and duplicates ----------------------------------------------------

    def _start_triage(self) -> None:
        """Ask the app's engine for its triage assistant (no engine: a form without it)."""
        engine = getattr(self.app, "engine", None)
        if engine is None:
            return
        self._engine = engine
        self._triage = engine.triage()
        for key in SUGGESTED:
            select = self.query_one(f"#{key}", Select)
            self._placed[key] = select.value
            # Opening the list is a choice too, even when the same value is picked again.
            self.watch(select, "expanded", self._on_expanded(key))

    def _on_expanded(self, key: str) -> Callable[[bool], None]:
        """A watcher of one list's ``expanded`` (one parameter: Textual passes the new value)."""

        def expanded(open_: bool) -> None:
            if open_:
                self._chosen.add(key)
                self._show_hints()

        return expanded

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        key = event.select.id or ""
        if key in SUGGESTED and event.value != self._placed.get(key):
            self._chosen.add(key)
            self._show_hints()

    @on(Input.Changed, "#room, #description")
    def _typed(self, event: Input.Changed) -> None:
        triage = self._triage
        if triage is None:
            return
        room = self.query_one("#room", Input).value
        description = self.query_one("#description", Input).value
        self.suggestion = triage.suggest(description) if description.strip() else None
        self.duplicate = triage.duplicate(room, description) if room.strip() else None
        self._show_hints()

    def suggested(self, key: str) -> str | None:
        """The value suggested for field ``key`` now (None: none, or the person chose)."""
        if self.suggestion is None or key in self._chosen:
            return None
        value = getattr(self.suggestion, key)
        return None if value is None else str(value)

    def action_take_suggestion(self) -> None:
        """Put the suggested values into the fields the person has not set."""
        for key in SUGGESTED:
            value = self.suggested(key)
            if value is not None:
                self._placed[key] = value
                self.query_one(f"#{key}", Select).value = value
                self._chosen.add(key)
        self._show_hints()

    def _show_hints(self) -> None:
        """Each suggestion beside its field (in place of an empty error), the duplicate below."""
        for key in SUGGESTED:
            value = self.suggested(key)
            error = self.query_one(f"#{key}-error", Static)
            hint = self.query_one(f"#{key}-hint", Static)
            label = category_label(value) if key == "category" and value else value
            shown = value is not None and not self.error_for(key)
            hint.update(f"Ctrl+T → {label}" if shown else "")
            hint.display = shown
            error.display = not shown
        warning = self.query_one("#form-duplicate", Static)
        warning.update(literal(self.duplicate_warning()))
        warning.display = self.duplicate is not None

    def duplicate_warning(self) -> str:
        """The line naming the likely duplicate (empty when there is none)."""
        dup = self.duplicate
        if dup is None:
            return ""
        name = f"#{dup.number}" if dup.number is not None else "a request not synced yet"
        return (
            f'Looks like {name} "{_short(dup.description)}", open {_age(dup, self._now())}: '
            "Enter opens it, Ctrl+S logs anyway"
        )

    def _now(self) -> datetime:
        now = getattr(self.app, "now", None)
        if callable(now):
            moment = now()
            assert isinstance(moment, datetime)
            return moment
        return self._engine.server_now() if self._engine is not None else utcnow()

    # -- the due time ---------------------------------------------------------------------------

    @property
    def _due_shown(self) -> str:
        """What the due field holds when the form opens: an edit shows the current deadline."""
        return shown(self.request.due_at, self.zone) if self.request is not None else ""

    def due(self) -> Due | BadDue | None:
        """The due time as typed, read now: None when empty (the SLA table decides), and for
        an edit left as it opened, the request's own deadline to the second."""
        typed = self.query_one("#due_at", Input).value
        now = self._now()
        if self.request is not None and typed == self._due_shown:
            return Due(self.request.due_at, describe(self.request.due_at, now, self.zone))
        return parse_due(typed, now, self.zone)

    @on(Input.Changed, "#due_at")
    def _due_typed(self, event: Input.Changed | None = None) -> None:
        """Say how the due time reads, or why it does not, while it is typed."""
        read = self.due()
        if isinstance(read, BadDue):
            self._put_due(read.reason, "")
        else:
            self._put_due("", read.says if read is not None else NO_DUE)

    def _put_due(self, reason: str, reading: str) -> None:
        """The reason beside the due field, or else how it reads (one of the two is shown)."""
        error = self.query_one("#due_at-error", Static)
        hint = self.query_one("#due_at-hint", Static)
        error.update(literal(reason))
        hint.update(literal(reading))
        hint.set_class(reading == NO_DUE, "form-hint-muted")
        self.query_one("#due_at", Input).set_class(bool(reason), "field-invalid")
        hint.display = bool(reading) and not reason
        error.display = not hint.display

    def _open_duplicate(self, request: Request) -> None:
        self.dismiss(None)
        if self.open_request is not None:
            self.open_request(request)

    def values(self) -> dict[str, Any]:
        """What was typed, exactly (an empty guest name means no guest name); ``due_at`` is
        the deadline the due field names (None: the SLA table's). Call ``due()`` first: a
        due time that does not read raises ``ValueError``."""
        guest = self.query_one("#guest_name", Input).value
        due = self.due()
        if isinstance(due, BadDue):
            raise ValueError(due.reason)
        return {
            "room": self.query_one("#room", Input).value,
            "description": self.query_one("#description", Input).value,
            "category": self.query_one("#category", Select).value,
            "priority": self.query_one("#priority", Select).value,
            "due_at": due.at if due is not None else None,
            "guest_name": guest or None,
        }

    @on(Input.Submitted)
    async def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        if self.duplicate is not None and self.open_request is not None:
            self._open_duplicate(self.duplicate)
        elif event.input.id == "guest_name":
            await self.action_submit()
        else:
            self.focus_next()

    async def action_submit(self) -> None:
        self._show(None)
        due = self.due()
        if isinstance(due, BadDue):  # the rule book never sees what the form cannot read
            self._show(Rejection(Code.INVALID, due.reason, {"due_at": due.reason}))
            return
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
            reason = by_field.get(key)
            self.query_one(f"#{key}-error", Static).update(literal(reason or ""))
            self.query_one(f"#{key}").set_class(reason is not None, "field-invalid")
            if reason and first_bad is None:
                first_bad = key
        self.query_one("#form-error", Static).update(literal("; ".join(other)))
        if "due_at" in by_field:
            self._put_due(by_field["due_at"], "")
        else:
            self._due_typed()
        if first_bad is not None:
            self.query_one(f"#{first_bad}").focus()
        if self._triage is not None:
            self._show_hints()

    def error_for(self, key: str) -> str:
        """The reason shown next to field ``key`` (empty when none), for tests and screenshots."""
        return str(self.query_one(f"#{key}-error", Static).render())


class DuplicateWarning(Static):
    """The line naming a likely duplicate; brought into view whenever it appears or changes
    height, once it is laid out (on a short terminal the form scrolls, and a warning hidden
    under the keys line is no warning). Asking right after showing it was too early: it had
    no size yet, so the form did not scroll, on its second appearance at least."""

    def on_resize(self, event: events.Resize) -> None:
        if self.display and event.size.height:
            self.scroll_visible(animate=False)


def _short(text: str, width: int = 40) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _age(request: Request, now: datetime) -> str:
    """How long a request has been open, as a desk says it: "12 min", "3 h", "2 d"."""
    minutes = max(0, int((now - request.created_at).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"
