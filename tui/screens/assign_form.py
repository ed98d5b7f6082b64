"""Assign a request: type a name or pick one from the staff directory, online staff first.

The names are the active accounts of the staff directory the server last sent
(``Engine.staff``, kept in the replica, so offline too): you, then who is online now
(``Engine.presence()``), marked as online, then the rest by name; admins are left out (they
manage accounts, not requests) but may still be typed. A typed name that is not an active
account gets the rule book's reason (``StaffDirectory.check_assignee``) under the field as
soon as no listed name matches it, and the engine refuses it on Enter, online and offline.

Before this terminal has ever reached the server there is no directory: the form says so and
offers, as before, the names this replica has seen as assignees and creators (the server
checks the name when the edit reaches it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from offline.errors import Rejected
from protocol.models import Request, Role
from protocol.staff import StaffDirectory
from tui.text import literal
from tui.widgets.safe_input import SafeInput

if TYPE_CHECKING:
    from offline.engine import Engine

ONLINE_MARK = "  ● online"
NO_DIRECTORY = (
    "No staff directory yet (this terminal has not reached the server): names seen here are "
    "offered, and the server checks the name."
)
Check = Callable[[str | None], str | None]
"""Why a name may not be assigned (None: it may)."""


def suggestions(me: str, requests: Iterable[Request], online: Iterable[str] = ()) -> list[str]:
    """Me first, then ``online`` in their order, then everyone else seen as assignee or
    creator, most frequent first."""
    seen: Counter[str] = Counter()
    for r in requests:
        if r.assignee:
            seen[r.assignee] += 1
        seen[r.created_by] += 1
    first = list(dict.fromkeys([me, *online]))
    rest = (name for name, _count in seen.most_common() if name not in first)
    return [*first, *rest]


def directory_names(directory: StaffDirectory, me: str, online: Iterable[str] = ()) -> list[str]:
    """The directory's active accounts but admins: me, then ``online`` in their order, then
    the rest by name."""
    listed = [e.name for e in directory.entries if e.active and e.role != Role.ADMIN]
    first = [n for n in dict.fromkeys([me, *online]) if n in listed]
    return [*first, *(n for n in listed if n not in first)]


def picker_for(engine: Engine, request: Request) -> AssignForm:
    """The assignee picker for ``request``: the staff directory, online staff first."""

    async def assign(name: str | None) -> Request:
        return await engine.assign(request.id, name)

    me = engine.config.user
    online = [e.user for e in engine.presence() if e.role != Role.ADMIN]
    directory = engine.staff
    if directory is None:
        names = suggestions(me, engine.requests(), online)
        return AssignForm(assign, names, request.assignee, online=online, note=NO_DIRECTORY)
    names = directory_names(directory, me, online)
    return AssignForm(
        assign, names, request.assignee, online=online, check=directory.check_assignee
    )


class AssignForm(ModalScreen[Request | None]):
    """A name field over a filtered list of names; an empty name unassigns."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="assign.cancel"),
        Binding("down", "to_list", "Names", show=False, id="assign.names"),
    ]

    def __init__(
        self,
        assign: Callable[[str | None], Awaitable[Request]],
        names: list[str],
        current: str | None = None,
        online: Collection[str] = (),
        check: Check | None = None,
        note: str = "",
    ) -> None:
        super().__init__()
        self.assign = assign
        self.names = names
        self.current = current
        self.online = frozenset(online)
        """Names shown as online now."""
        self.check = check
        """The directory's check of a typed name (None: no directory known)."""
        self.note = note
        """Said above the field (why the names are not the directory's)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Label("Assign to", id="form-title")
            yield Static(literal(self.note), id="assign-note")
            yield SafeInput(
                value=self.current or "", id="assignee", placeholder="name (empty: nobody)"
            )
            yield Static("", id="assign-error", classes="form-error")
            yield OptionList(id="names")
            yield Label("Enter assign · ↓ pick a name · Esc cancel", id="form-help")

    def on_mount(self) -> None:
        self.query_one("#assign-note").display = bool(self.note)
        self._fill("")
        self.set_focus(self.query_one(Input))  # at once: see ``tui.keys_in_order``

    def _fill(self, typed: str) -> None:
        names = self.query_one(OptionList)
        names.clear_options()
        wanted = typed.casefold()
        matching = [n for n in self.names if wanted in n.casefold()][:12]
        names.add_options(
            Option(literal(n) + Text(ONLINE_MARK if n in self.online else ""), id=n)
            for n in matching
        )
        name = typed.strip()
        why = self.check(name) if self.check is not None and name and not matching else None
        self.query_one("#assign-error", Static).update(literal(why or ""))

    def error(self) -> str:
        """The reason shown under the field (empty when none), for tests."""
        return str(self.query_one("#assign-error", Static).render())

    def shown_names(self) -> list[str]:
        """The options as listed (name and online mark), for tests."""
        names = self.query_one(OptionList)
        return [str(names.get_option_at_index(i).prompt) for i in range(names.option_count)]

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    async def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        await self._assign(event.value.strip() or None)

    @on(OptionList.OptionSelected)
    async def _picked(self, event: OptionList.OptionSelected) -> None:
        await self._assign(event.option.id)

    def action_to_list(self) -> None:
        names = self.query_one(OptionList)
        if names.option_count:
            names.focus()
            names.highlighted = 0

    async def _assign(self, name: str | None) -> None:
        try:
            request = await self.assign(name)
        except Rejected as refused:
            why = refused.fields.get("assignee") or str(refused)
            self.query_one("#assign-error", Static).update(literal(why))
            self.query_one(Input).focus()
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
