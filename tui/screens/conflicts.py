"""Parked conflicts: my value and theirs, field by field, and one key to take either.

An edit the server refused with ``conflict`` under the ``manual`` strategy waits here (the
engine keeps it in the replica, so it survives a restart). Nothing is overwritten until a person
picks: ``m`` re-issues mine on the current version, ``t`` keeps theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from offline.errors import OfflineError, Rejected
from offline.events import ConflictParked, StatusChanged, ViewChanged
from protocol.models import Request
from tui.messages import ConflictArrived, EngineStatusChanged, RowsChanged, bridge
from tui.text import literal, plain
from tui.widgets.status_bar import StatusBar
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from offline.conflicts import Conflict
    from offline.engine import Engine


def shown(value: Any) -> Text:
    """A field value as the person would recognise it (user text literally)."""
    if value is None:
        return Text("—", style="dim")
    return literal(str(value))


def describe(conflict: Conflict, engine: Engine) -> Group:
    """One conflict: which request, what clashed, and mine vs theirs per field."""
    request = engine.get(conflict.request_id)
    head = Text(style="bold")
    if request is not None:
        head.append(f"#{request.number or '…'} room ")
        head.append_text(literal(request.room))
        head.append(" — ")
        head.append_text(literal(request.description))
    else:
        head.append(conflict.request_id)
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="dim")
    table.add_column("field")
    table.add_column("mine", style="bold")
    table.add_column("theirs")
    for field in conflict.fields:
        table.add_row(field, shown(conflict.mine.get(field)), shown(conflict.theirs.get(field)))
    why = literal(f"{conflict.name.replace('_', ' ')}: {conflict.message}", style="dim")
    why.end = "\n"  # literal() ends without a newline: the table would start on this line
    return Group(head, why, table, Text(""))


class ConflictsScreen(Screen[None]):
    """Every parked conflict; ``m`` keeps mine, ``t`` keeps theirs."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="conflicts.back"),
        Binding("m", "resolve('mine')", "Keep mine", id="conflicts.mine"),
        Binding("t", "resolve('theirs')", "Keep theirs", id="conflicts.theirs"),
        Binding("e", "edit", "Edit mine", id="conflicts.edit"),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._unsubscribe: Callable[[], None] = lambda: None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("", id="conflicts-empty")
        yield OptionList(id="conflicts")
        yield StatusBar(self.engine.config.user, str(self.engine.config.role.value))
        yield Footer()

    def on_mount(self) -> None:
        self.title = "frontdesk"
        kinds = (ViewChanged, StatusChanged, ConflictParked)
        self._unsubscribe = bridge(self.engine, self, kinds=kinds)
        self.query_one(StatusBar).show(self.engine.status)
        self._reload()
        self.query_one(OptionList).focus()

    def on_unmount(self) -> None:
        self._unsubscribe()

    def _reload(self) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        conflicts = self.engine.conflicts()
        options.clear_options()
        options.add_options(Option(describe(c, self.engine), id=c.id) for c in conflicts)
        if conflicts:
            options.highlighted = min(highlighted or 0, len(conflicts) - 1)
        self.sub_title = f"Conflicts · {len(conflicts)}"
        empty = self.query_one("#conflicts-empty", Static)
        empty.update("" if conflicts else "No parked conflicts: every edit is settled.")
        empty.display = not conflicts

    @on(RowsChanged)
    def _rows_changed(self, message: RowsChanged) -> None:
        message.take_ids()  # which rows does not matter: every conflict is listed again
        self._reload()

    @on(ConflictArrived)
    def _conflict(self) -> None:
        self._reload()

    @on(EngineStatusChanged)
    def _status(self, message: EngineStatusChanged) -> None:
        self.query_one(StatusBar).show(message.status)
        if message.status.conflicts != len(self.query_one(OptionList).options):
            self._reload()

    def action_edit(self) -> None:
        """Field by field: my values to edit, theirs beside them; saving re-issues the mix."""
        from tui.screens.conflict_form import ConflictForm

        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        conflict_id = options.get_option_at_index(options.highlighted).id
        conflict = next((c for c in self.engine.conflicts() if c.id == conflict_id), None)
        if conflict is None:
            return
        engine = self.engine

        async def save(values: dict[str, Any]) -> Request | None:
            return await engine.resolve_conflict(conflict.id, "mine", edited=values)

        def done(_result: Request | None) -> None:
            self._reload()

        self.app.push_screen(ConflictForm(save, conflict.mine, conflict.theirs), done)

    async def action_resolve(self, choice: str) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        conflict_id = options.get_option_at_index(options.highlighted).id
        if conflict_id is None:
            return
        try:
            await self.engine.resolve_conflict(conflict_id, choice)
        except Rejected as refused:
            self.notify(plain(str(refused)), severity="error", markup=False, title="Refused")
        except OfflineError as error:
            self.notify(plain(str(error)), severity="warning", markup=False)
        self._reload()
