"""One request in full: every field, its notes with author and time, and the keys to act."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from offline.errors import ServerApiError
from offline.events import PresenceChanged, PresenceEntry, StatusChanged, ViewChanged
from protocol.models import Request
from tui.messages import EngineStatusChanged, PresenceUpdated, RowsChanged, bridge
from tui.screens.request_actions import RequestActions
from tui.text import literal, plain
from tui.widgets.cells import STATUS_LABEL, category_label, number_cell, sla_cell
from tui.widgets.status_bar import StatusBar
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from offline.engine import Engine


def when(value: datetime | None) -> str:
    """A time in the terminal's local zone, to the minute."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


def history_table(entries: list[dict[str, Any]]) -> Table:
    """The server's audit trail of one request: when, who, which mutation, the status after."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column(style="bold")
    table.add_column()
    table.add_column(style="dim")
    for entry in entries:
        at = entry.get("at")
        try:
            when_text = when(datetime.fromisoformat(str(at).replace("Z", "+00:00")))
        except ValueError:
            when_text = str(at)
        by = entry.get("by") or {}
        row = entry.get("request") or {}
        table.add_row(
            when_text,
            literal(str(by.get("user", "?"))),
            Text(str(entry.get("mutation", "")).replace("_", " ")),
            Text(f"→ {row.get('status', '?')} · v{row.get('version', '?')}"),
        )
    return table


def others_here(users: Iterable[PresenceEntry], me: str, request_id: str) -> Text:
    """Who else has this request open, and who is editing it (empty when nobody)."""
    names = [
        literal(u.user, style="bold") + Text(" editing" if u.editing else " viewing")
        for u in users
        if u.viewing == request_id and u.user != me
    ]
    if not names:
        return Text()
    return Text("Also here: ", style="dim") + Text(" · ").join(names)


class HistoryArrived(Message, bubble=False):
    """The server's history of the request (or why it could not be fetched)."""

    def __init__(self, entries: list[dict[str, Any]] | None, error: str | None) -> None:
        super().__init__()
        self.entries = entries
        self.error = error


def describe(request: Request, now: datetime, pending: bool) -> Group:
    """The detail view of ``request`` as Rich renderables (user text shown literally)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", justify="right")
    grid.add_column()
    sla_text, sla_state = sla_cell(request, now)
    rows: list[tuple[str, Text]] = [
        ("Ticket", Text(number_cell(request) + ("   ⟳ pending sync" if pending else ""))),
        ("Room", literal(request.room)),
        ("Category", Text(category_label(request.category.value))),
        ("Priority", Text(request.priority.value)),
        ("Status", Text(STATUS_LABEL[request.status])),
        ("Assignee", literal(request.assignee or "—")),
        ("Guest", literal(request.guest_name or "—")),
        ("SLA", Text(f"{sla_text} ({sla_state}) · due {when(request.due_at)}")),
        ("Created", literal(f"{when(request.created_at)} by {request.created_by}")),
        ("Updated", Text(f"{when(request.updated_at)} · version {request.version}")),
        ("Acknowledged", Text(when(request.acknowledged_at))),
        ("Started", Text(when(request.started_at))),
        ("Completed", Text(when(request.completed_at))),
        ("Description", literal(request.description, one_line=False)),
    ]
    for label, value in rows:
        grid.add_row(label, value)
    notes = Table.grid(padding=(0, 2))
    notes.add_column(style="dim")
    notes.add_column(style="bold")
    notes.add_column()
    for note in request.notes:
        notes.add_row(when(note.at), literal(note.author), literal(note.text, one_line=False))
    title = Text(f"\nNotes ({len(request.notes)})", style="bold")
    empty = Text("no notes yet — press n to add one", style="dim")
    return Group(grid, title, notes if request.notes else empty)


class DetailScreen(Screen[None]):
    """Every field of one request; ``n`` adds a note, ``e`` edits, a/s/c/x move it, ``R``
    reopens it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("n", "note", "Note", id="detail.note"),
        Binding("e", "edit", "Edit", id="detail.edit"),
        Binding("a", "set_status('acknowledged')", "Ack", id="detail.acknowledge"),
        Binding("s", "set_status('in_progress')", "Start", id="detail.start"),
        Binding("c", "set_status('completed')", "Complete", id="detail.complete"),
        Binding("x", "set_status('cancelled')", "Cancel req", id="detail.cancel"),
        Binding("R", "reopen", "Reopen", show=False, id="detail.reopen"),
        Binding("m", "assign_me", "Take", show=False, id="detail.assign_me"),
        Binding("A", "assign", "Assign", id="detail.assign"),
    ]

    def __init__(
        self, engine: Engine, request_id: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        """``clock``: the server time the SLA countdown runs to (default: the engine's)."""
        super().__init__()
        self.engine = engine
        self.request_id = request_id
        self.clock = clock or engine.server_now
        self.actions = RequestActions(engine, self)
        self._unsubscribe: Callable[[], None] = lambda: None
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-presence")
            yield Static(id="detail")
            yield Static(Text("\nHistory", style="bold"), id="history-title")
            yield Static(Text("loading…", style="dim"), id="history")
        yield StatusBar(self.engine.config.user, str(self.engine.config.role.value))
        yield Footer()

    def on_mount(self) -> None:
        kinds = (ViewChanged, StatusChanged, PresenceChanged)
        self._unsubscribe = bridge(self.engine, self, kinds=kinds)
        self.query_one(StatusBar).show(self.engine.status)
        self._show_presence(tuple(self.engine.presence()))
        self._redraw()
        self.set_interval(1.0, self._redraw)
        self._load_history()

    def _load_history(self) -> None:
        if self.engine.config.server_url is None:
            self.post_message(HistoryArrived(None, "offline only: no server history"))
            return
        self.run_worker(self._fetch_history(), group="history", exclusive=True)

    async def _fetch_history(self) -> None:
        try:
            entries = await self.engine.fetch_history(self.request_id)
        except ServerApiError as error:
            self.post_message(HistoryArrived(None, str(error)))
            return
        self.post_message(HistoryArrived(entries, None))

    @on(HistoryArrived)
    def _history(self, message: HistoryArrived) -> None:
        shown = self.query_one("#history", Static)
        if message.entries is None:
            shown.update(literal(message.error or "", style="dim"))
        elif not message.entries:
            shown.update(Text("not on the server yet (pending sync)", style="dim"))
        else:
            shown.update(history_table(message.entries))

    def on_unmount(self) -> None:
        self._unsubscribe()
        self.engine.set_presence(None, False)

    def on_screen_resume(self) -> None:
        """Shown (again): this user views the request; a form that was on top has closed."""
        self.engine.set_presence(self.request_id, False)

    @on(PresenceUpdated)
    def _presence(self, message: PresenceUpdated) -> None:
        self._show_presence(message.users)

    def _show_presence(self, users: tuple[PresenceEntry, ...]) -> None:
        text = others_here(users, self.engine.config.user, self.request_id)
        shown = self.query_one("#detail-presence", Static)
        shown.update(text)
        shown.display = bool(text)

    def presence_text(self) -> str:
        """The "Also here" line as shown (empty when nobody else has it open), for tests."""
        shown = self.query_one("#detail-presence", Static)
        return str(shown.render()) if shown.display else ""

    @property
    def request(self) -> Request | None:
        return self.engine.get(self.request_id)

    def _redraw(self) -> None:
        request = self.request
        body = self.query_one("#detail", Static)
        if request is None:
            body.update(Text("This request is gone.", style="bold"))
            return
        self.title = "frontdesk"
        self.sub_title = f"Request {number_cell(request)} · room {plain(request.room)}"
        pending = self.engine.is_pending(request.id)
        now = self.clock()
        shown = (request.version, request.number, pending, sla_cell(request, now)[0])
        if shown == self._shown:
            return  # the once-a-second tick only repaints when the countdown text moved
        self._shown = shown
        body.update(describe(request, now, pending))

    @on(RowsChanged)
    def _rows_changed(self, message: RowsChanged) -> None:
        if self.request_id in message.take_ids():
            self._redraw()
            self._load_history()

    @on(EngineStatusChanged)
    def _status_changed(self, message: EngineStatusChanged) -> None:
        self.query_one(StatusBar).show(message.status)
        self._redraw()

    def action_note(self) -> None:
        self.engine.set_presence(self.request_id, True)  # others see "editing" while it is open
        self.actions.note(self.request_id)

    def action_edit(self) -> None:
        request = self.request
        if request is not None:
            self.engine.set_presence(self.request_id, True)
            self.actions.edit(request)

    async def action_set_status(self, status: str) -> None:
        await self.actions.set_status(self.request_id, status)

    def action_reopen(self) -> None:
        request = self.request
        if request is not None:
            self.engine.set_presence(self.request_id, True)
            self.actions.reopen(request)

    def action_assign(self) -> None:
        """Assign to anyone: a name field over staff online now, then the names seen here."""
        request = self.request
        if request is not None:
            self.actions.assign(request)

    async def action_assign_me(self) -> None:
        await self.actions.assign_me(self.request_id)
