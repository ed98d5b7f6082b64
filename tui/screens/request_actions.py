"""What a screen can do to requests, written once: the queue and the detail screen both call it.

Each action goes through the engine, which refuses what the rule book refuses
(``offline.errors.Rejected``); a refusal is shown the same way wherever it came from, as a
toast with the rule book's reason, never guessed here. Forms open on top of the calling screen.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from offline.errors import Rejected
from protocol.models import Category, Priority, Request, Status
from protocol.mutators import parse_args
from protocol.rules import Rejection, check_transition
from protocol.sla import SlaTable
from tui.screens.assign_form import picker_for
from tui.screens.note_form import NoteForm
from tui.screens.request_form import RequestForm, Submit
from tui.text import plain
from tui.widgets.cells import number_cell

if TYPE_CHECKING:
    from offline.engine import Engine


def edit_submitter(engine: Engine, request: Request) -> Submit:
    """The form's submit for an edit: send only the fields that changed."""

    async def update(values: dict[str, Any]) -> Request:
        values = dict(values)
        due = due_change(engine.sla, request, values.pop("due_at", request.due_at), values)
        changes = {k: v for k, v in values.items() if v != _value(getattr(request, k))}
        changes.update(due)
        if not changes:
            return request
        return await engine.update_request(request.id, changes)

    return update


def due_change(
    sla: SlaTable, request: Request, due: datetime | None, values: dict[str, Any]
) -> dict[str, datetime]:
    """The ``due_at`` an edit sends (empty: none): ``due`` is the due field's deadline (None:
    emptied, the SLA table decides for the category and priority as saved). A deadline left as
    it was is not sent: the rule book keeps a deadline of the clerk's own when the priority or
    category changes, and moves one the SLA table set."""
    if due is None:
        category = Category(values.get("category", request.category))
        priority = Priority(values.get("priority", request.priority))
        due = sla.due_at(request.created_at, category, priority)
    return {"due_at": due} if due != request.due_at else {}


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


class RequestActions:
    """Status moves, assignment, edits and notes for the requests a screen shows."""

    def __init__(self, engine: Engine, screen: Screen[Any]) -> None:
        self.engine = engine
        self.screen = screen
        """Where refusals are shown and forms are opened over."""

    def refused(self, refusal: Rejected) -> None:
        """Show the rule book's reason for a refusal (as text, never as markup)."""
        self.screen.notify(plain(str(refusal)), severity="error", markup=False, title="Refused")

    async def set_status(self, request_id: str, status: str) -> bool:
        """Move one request to ``status``; False when refused (the reason is shown)."""
        try:
            await self.engine.set_status(request_id, status)
        except Rejected as refusal:
            self.refused(refusal)
            return False
        return True

    async def bulk_set_status(self, request_ids: Collection[str], status: str) -> bool:
        """Move the marked requests to ``status`` all at once (a manager's bulk action: the
        rule book refuses it to staff, even for one row); False when refused."""
        try:
            await self.engine.bulk_set_status(list(request_ids), status)
        except Rejected as refusal:
            self.refused(refusal)
            return False
        return True

    async def assign_me(self, request_id: str) -> bool:
        """Assign the request to the signed-in user; False when refused."""
        try:
            await self.engine.assign(request_id, self.engine.config.user)
        except Rejected as refusal:
            self.refused(refusal)
            return False
        return True

    def assign(self, request: Request) -> None:
        """Open the assignee picker (staff online now first)."""
        self.screen.app.push_screen(picker_for(self.engine, request))

    def edit(self, request: Request) -> None:
        """Open the edit form; saving sends only the fields that changed."""
        form = RequestForm(edit_submitter(self.engine, request), request=request)
        self.screen.app.push_screen(form)

    def note(self, request_id: str) -> None:
        """Open the note form for one request."""

        async def add(text: str) -> Request:
            return await self.engine.add_note(request_id, text)

        self.screen.app.push_screen(NoteForm(add))

    def reopen(self, request: Request) -> None:
        """Completed or cancelled back to pending, with a note saying why (a manager's move).

        The rule book is asked before the prompt opens, so a refusal is shown at once (nothing
        typed in vain); the note is checked by the rule book before anything changes; then the
        status change and the note go through the engine one after the other, offline too."""
        refusal = check_transition(request, Status.PENDING, self.engine.actor)
        if refusal is not None:
            self.refused(Rejected(refusal))
            return
        request_id = request.id

        async def reopen(text: str) -> Request:
            checked = parse_args("add_note", {"id": request_id, "text": text})
            if isinstance(checked, Rejection):
                raise Rejected(checked)
            await self.engine.set_status(request_id, Status.PENDING.value)
            return await self.engine.add_note(request_id, text)

        form = NoteForm(
            reopen,
            title=f"Reopen request {number_cell(request)} (back to pending)",
            placeholder="why it is reopened (required)",
        )
        self.screen.app.push_screen(form)
