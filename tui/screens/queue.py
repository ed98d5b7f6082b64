"""The queue: every request in one calm table, the keys to move them, the state of the sync.

Engine events arrive as messages (``tui.messages``); the handlers here update the model and
the widgets. Writes go through the engine, which refuses what the rule book refuses
(``offline.errors.Rejected``): the reason is shown as it is, nothing is guessed here.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widgets import Footer

from offline.events import ConflictParked, StatusChanged, ViewChanged
from protocol.models import Request
from tui.alert_desk import AlertDesk
from tui.history_lookup import look_up_older
from tui.messages import ConflictArrived, EngineStatusChanged, RowsChanged, bridge
from tui.queue_model import QUICK_VIEWS, SORT_KEYS, QueueModel
from tui.screens.detail import DetailScreen
from tui.screens.request_actions import RequestActions
from tui.screens.request_form import RequestForm
from tui.text import plain
from tui.widgets.alert_banner import AlertBanner
from tui.widgets.filter_bar import FilterBar
from tui.widgets.request_table import COLUMNS, RequestTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from offline.engine import Engine

EAGER_ROWS = 5000
"""Up to this many requests, the first paint shows them all at once."""
FIRST_PAINT_ROWS = 200
"""Otherwise the first paint shows this many of the newest, the rest follow a frame later."""

FULL_RELOAD_ABOVE = 50_000
"""A burst touching more ids than this reloads the whole model; smaller bursts (catch-up pages)
are merged by ``QueueModel.upsert`` (2,000 rows into 100,000: ~60 ms instead of ~600 ms)."""

SCREENS: dict[str, str] = {
    "alerts": "alerts",
    "conflicts": "conflicts",
    "performance": "performance",
    "handover": "handover",
    "help": "app.help",
}
"""Screens ``:`` jumps to, besides the quick views: name → action."""

SORTABLE = [c.key for c in COLUMNS if c.key in SORT_KEYS] + ["created"]

SLA_FIRST_VIEWS = frozenset({"urgent", "night"})
"""Views about deadlines: they sort by time left, soonest (or most overdue) first."""


def hidden_note(titles: tuple[str, ...]) -> str:
    """What the title says when the terminal is too narrow for every column (never silently)."""
    if not titles:
        return ""
    return f" · +{', '.join(titles)}: widen, or Enter for detail"


@runtime_checkable
class AlertHost(Protocol):
    """What the queue needs of the app's alerts (``FrontdeskApp`` keeps them; the app imports
    this screen, so the screen names what it needs instead of importing the app)."""

    alert_count: int
    alert_desk: AlertDesk | None


class QueueScreen(Screen[None]):
    """Header, alert banner, the request table, the ``/`` filter, the status bar."""

    BINDINGS = [
        Binding("n", "new", "New", id="queue.new"),
        Binding("a", "set_status('acknowledged')", "Ack", id="queue.acknowledge"),
        Binding("s", "set_status('in_progress')", "Start", id="queue.start"),
        Binding("c", "set_status('completed')", "Complete", id="queue.complete"),
        Binding("x", "set_status('cancelled')", "Cancel req", id="queue.cancel"),
        Binding("R", "reopen", "Reopen", show=False, id="queue.reopen"),
        Binding("e", "edit", "Edit", show=False, id="queue.edit"),
        Binding("m", "assign_me", "Take", show=False, id="queue.assign_me"),
        Binding("A", "assign", "Assign", show=False, id="queue.assign"),
        Binding("slash", "filter", "Filter", id="queue.filter"),
        Binding("colon", "jump", "View", show=False, id="queue.jump"),
        Binding("o", "sort_next", "Sort", show=False, id="queue.sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False, id="queue.sort_reverse"),
        Binding(
            "exclamation_mark", "acknowledge_alert", "Ack alert", show=False, id="queue.ack_alert"
        ),
        Binding("b", "alerts", "Alerts", show=False, id="queue.alerts"),
        Binding("escape", "back", "Back", show=False, id="queue.back"),
        Binding("C", "conflicts", "Conflicts", show=False, id="queue.conflicts"),
        Binding("P", "performance", "Performance", show=False, id="queue.performance"),
        Binding("1", "view('all')", "All", show=False, id="view.all"),
        Binding("2", "view('mine')", "Mine", show=False, id="view.mine"),
        Binding("3", "view('open')", "Open", show=False, id="view.open"),
        Binding("4", "view('urgent')", "Urgent", show=False, id="view.urgent"),
        Binding("5", "view('completed_today')", "Done today", show=False, id="view.completed"),
        Binding("6", "view('night')", "Night", show=False, id="view.night"),
    ]

    title: Reactive[str | None] = Reactive(None, compute=False, repaint=False)
    sub_title: Reactive[str | None] = Reactive(None, compute=False, repaint=False)
    """Textual repaints the whole screen when a screen's title changes; the subtitle changes
    on every filter keystroke (row count, query) and ``TitleBar`` repaints its own line."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        """``clock``: the server time SLAs are judged by (default: the engine's estimate)."""
        super().__init__()
        self.engine = engine
        self.model = QueueModel(engine.config.user, clock=clock or engine.server_now)
        self.actions = RequestActions(engine, self)
        self._mode = "filter"
        self._unsubscribe: Callable[[], None] = lambda: None
        self._loading = False
        """True between the first paint (newest rows only) and the full queue."""
        self._conflicted: set[str] = set()
        """Requests with a parked conflict (marked ≠ in the table)."""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield AlertBanner(id="alert-banner")
        yield RequestTable(
            self.model,
            is_pending=self.engine.is_pending,
            has_conflict=self._conflicted.__contains__,
            id="requests",
        )
        yield FilterBar(id="filter")
        yield StatusBar(
            self.engine.config.user, str(self.engine.config.role.value), id="status-bar"
        )
        yield Footer()

    @property
    def table(self) -> RequestTable:
        return self.query_one(RequestTable)

    @property
    def alert_host(self) -> AlertHost:
        app = self.app
        assert isinstance(app, AlertHost), "the queue runs inside FrontdeskApp"
        return app

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        requests = self.engine.requests()
        if len(requests) > EAGER_ROWS:
            # First paint with the newest screenful (the default order), the rest a frame later:
            # sorting and indexing 100,000 rows takes longer than a first paint may.
            newest = heapq.nlargest(FIRST_PAINT_ROWS, requests, key=attrgetter("created_at"))
            self.model.replace_all(newest)
            self._loading = True
            self.call_after_refresh(self._load_all)
        else:
            self.model.replace_all(requests)
        kinds = (ViewChanged, StatusChanged, ConflictParked)
        self._unsubscribe = bridge(self.engine, self, kinds=kinds)
        self._refresh_conflicts()
        self.status_bar.show(self.engine.status)
        self.table.reload()
        self.table.focus()
        self._update_title()
        self.watch(self.app, "alert_count", self._show_alerts)
        self.set_interval(1.0, self._tick)
        self.set_interval(15.0, self._tick_views)

    def on_unmount(self) -> None:
        self._unsubscribe()

    def _load_all(self) -> None:
        self.model.replace_all(self.engine.requests())
        self._loading = False
        self.table.reload()
        self._update_title()

    def _update_title(self) -> None:
        total = len(self.model.requests)
        shown = len(self.model)
        self.title = "frontdesk"
        view = self.model.view.title
        counts = f"{shown:,}" if shown == total else f"{shown:,} of {total:,}"
        if self._loading:
            counts = f"loading {len(self.engine.requests()):,} requests…"
        query = f" · /{plain(self.model.query)}" if self.model.query else ""
        alerts = self.alert_host.alert_count
        bell = f" · ⚠ {alerts}" if alerts else ""
        self.sub_title = f"{view} · {counts}{query}{bell}{hidden_note(self.table.hidden)}"

    def _show_alerts(self, count: int) -> None:
        """Banner, status bar and title from the replica's open alerts (``AlertDesk``)."""
        desk = self.alert_host.alert_desk
        refs = desk.open if desk is not None else []
        banner = self.query_one(AlertBanner)
        bell_at = desk.next_bell() if desk is not None else None
        banner.show(refs, self.model.clock(), bell_at, self._alert_keys())
        self.status_bar.show_alerts(len(refs))
        self._update_title()

    def _alert_keys(self) -> str:
        """``! ack · b alerts``, with the keys as mapped now (short: it must fit at 80 columns
        beside the oldest alert)."""
        keys = {
            active.binding.id: self.app.get_key_display(active.binding)
            for active in self.active_bindings.values()
        }
        parts = []
        if ack := keys.get("queue.ack_alert"):
            parts.append(f"{ack} ack")
        if show := keys.get("queue.alerts"):
            parts.append(f"{show} alerts")
        return " · ".join(parts)

    def _tick(self) -> None:
        """Every second: SLA countdowns, and the banner's time to the next bell."""
        self.table.tick()
        banner = self.query_one(AlertBanner)
        if banner.display:
            desk = self.alert_host.alert_desk
            bell_at = desk.next_bell() if desk is not None else None
            banner.show(desk.open if desk else [], self.model.clock(), bell_at, banner.keys)

    # -- engine events -----------------------------------------------------------------------

    @on(RowsChanged)
    def _rows_changed(self, message: RowsChanged) -> None:
        ids = message.take_ids()
        with self.app.batch_update():
            if len(ids) > FULL_RELOAD_ABOVE:
                self.model.replace_all(self.engine.requests())
            else:
                changed: list[Request] = []
                removed: list[str] = []
                for rid in ids:
                    request = self.engine.get(rid)
                    if request is None:
                        removed.append(rid)
                    else:
                        changed.append(request)
                self.model.upsert(changed, removed)
            self.table.reload()
            self._update_title()

    @on(EngineStatusChanged)
    def _status_changed(self, message: EngineStatusChanged) -> None:
        self.status_bar.show(message.status)
        if message.status.conflicts != len(self._conflicted):
            self._refresh_conflicts()
        self.table.refresh_rows()

    @on(ConflictArrived)
    def _conflict(self, message: ConflictArrived) -> None:
        self._refresh_conflicts()
        self.table.refresh_rows()
        request = self.engine.get(message.event.request_id)
        where = f"room {request.room}" if request else "a request"
        self.notify(
            plain(f"Your edit of {where} clashed with someone else's: press C to choose."),
            title="Conflict parked",
            severity="warning",
            markup=False,
            timeout=8,
        )

    def _refresh_conflicts(self) -> None:
        self._conflicted.clear()
        self._conflicted.update(c.request_id for c in self.engine.conflicts())

    def _tick_views(self) -> None:
        if self.model.tick():
            self.table.reload()
            self._update_title()

    # -- table events ------------------------------------------------------------------------

    @on(RequestTable.Activated)
    def _open(self, message: RequestTable.Activated) -> None:
        self.app.push_screen(DetailScreen(self.engine, message.request_id, clock=self.model.clock))

    @on(RequestTable.MarksChanged)
    def _marks(self, message: RequestTable.MarksChanged) -> None:
        self.status_bar.show_marked(len(message.marked))

    @on(RequestTable.ColumnsHidden)
    def _columns_hidden(self, message: RequestTable.ColumnsHidden) -> None:
        self._update_title()

    @on(RequestTable.SortRequested)
    def _sort_clicked(self, message: RequestTable.SortRequested) -> None:
        self._sort(message.column)

    # -- actions -----------------------------------------------------------------------------

    def action_new(self) -> None:
        async def create(values: dict[str, Any]) -> Request:
            return await self.engine.create_request(**values)

        def show(request: Request) -> None:
            self.app.push_screen(DetailScreen(self.engine, request.id, clock=self.model.clock))

        self.app.push_screen(RequestForm(create, open_request=show), self._created)

    def _created(self, request: Request | None) -> None:
        if request is None:
            return
        self.model.pinned.add(request.id)
        self.model.upsert([request])
        self.table.reload()
        self.table.select_id(request.id)
        self.notify(f"Logged room {plain(request.room)}", markup=False, timeout=3)

    def action_edit(self) -> None:
        request = self.table.cursor_request
        if request is not None:
            self.actions.edit(request)

    async def action_set_status(self, status: str) -> None:
        """Move the marked rows (all at once) or else the cursor row to ``status``."""
        marked = [rid for rid in self.table.marked if rid in self.model.requests]
        target = marked or ([self.table.cursor_id] if self.table.cursor_id else [])
        if not target:
            return
        self.model.pinned.update(target)  # the rows an action touches stay in view
        if not marked:
            await self.actions.set_status(target[0], status)
        elif await self.actions.bulk_set_status(marked, status):
            self.table.clear_marks()

    def action_reopen(self) -> None:
        """Reopen the cursor row (managers; the rule book's refusal is shown to others)."""
        request = self.table.cursor_request
        if request is not None:
            self.model.pinned.add(request.id)
            self.actions.reopen(request)

    def action_assign(self) -> None:
        """Assign to anyone: a name field over staff online now, then the names seen here."""
        request = self.table.cursor_request
        if request is not None:
            self.actions.assign(request)

    async def action_assign_me(self) -> None:
        rid = self.table.cursor_id
        if rid is None:
            return
        self.model.pinned.add(rid)
        await self.actions.assign_me(rid)

    def action_filter(self) -> None:
        self._open_input("filter", self.model.query, "room, description, guest, assignee")

    def action_jump(self) -> None:
        names = ", ".join((*QUICK_VIEWS, *SCREENS))
        self._open_input("jump", "", names)

    def _open_input(self, mode: str, value: str, placeholder: str) -> None:
        self._mode = mode
        prompt = "/" if mode == "filter" else ":"
        self.query_one(FilterBar).open(prompt, value, placeholder)

    @on(FilterBar.Changed)
    def _filter_typed(self, event: FilterBar.Changed) -> None:
        if self._mode != "filter":
            return
        self.model.set_query(event.value)
        self.table.reload()
        self._update_title()

    @on(FilterBar.Submitted)
    def _filter_done(self, event: FilterBar.Submitted) -> None:
        if self._mode == "jump":
            name = event.value.strip().lower().replace(" ", "_")
            matches = [v for v in (*QUICK_VIEWS, *SCREENS) if v.startswith(name)] if name else []
            if matches and matches[0] in SCREENS:
                self.call_later(self.run_action, SCREENS[matches[0]])
            elif matches:
                self.action_view(matches[0])
            else:
                self.notify(f"No view named {plain(event.value)!r}", markup=False)
        else:  # older requests than the replica keeps are on the server
            look_up_older(self, self.engine, event.value, shown=len(self.model))
        self._close_input(keep=True)

    @on(FilterBar.Cancelled)
    def _filter_cancelled(self) -> None:
        self._close_input(keep=False)

    def _close_input(self, *, keep: bool) -> None:
        """Back to the table; Esc on the filter also clears it (Enter keeps it shown)."""
        bar = self.query_one(FilterBar)
        if not keep and self._mode == "filter" and self.model.query:
            self.model.set_query("")
            self.table.reload()
            self._update_title()
        self._mode = "filter"
        bar.prompt, bar.value = "/", self.model.query
        bar.display = bool(self.model.query)
        self.table.focus()

    def action_back(self) -> None:
        if self.table.marked:
            self.table.clear_marks()
        elif self.model.query:
            self._close_input(keep=False)

    def action_view(self, name: str) -> None:
        self.model.set_view(name)
        if name in SLA_FIRST_VIEWS:
            self.model.set_sort("sla", descending=False)  # what breaches next comes first
        self.table.reload()
        self._update_title()

    def action_sort_next(self) -> None:
        current = self.model.sort_column
        following = SORTABLE[(SORTABLE.index(current) + 1) % len(SORTABLE)]
        self._sort(following)

    def action_sort_reverse(self) -> None:
        self.model.set_sort(self.model.sort_column, not self.model.descending)
        self.table.reload()

    def _sort(self, column: str) -> None:
        self.model.set_sort(column)
        self.table.reload()
        self.notify(f"Sorted by {column}", timeout=1.5)

    def action_conflicts(self) -> None:
        from tui.screens.conflicts import ConflictsScreen

        self.app.push_screen(ConflictsScreen(self.engine))

    def action_performance(self) -> None:
        from tui.screens.performance import PerformanceScreen

        self.app.push_screen(PerformanceScreen(self.engine))

    def action_handover(self) -> None:
        from tui.screens.handover import HandoverScreen

        self.app.push_screen(HandoverScreen(self.engine))

    def action_alerts(self) -> None:
        from tui.screens.alerts import AlertsScreen

        desk = self.alert_host.alert_desk
        if desk is not None:
            self.app.push_screen(AlertsScreen(desk, clock=self.model.clock))

    async def action_acknowledge_alert(self) -> None:
        """Acknowledge the oldest alert this user may (a mutation: offline too, every terminal
        sees it) and put the cursor on its request, filter or not. When every open alert is
        someone else's, the rule book's reason is shown."""
        desk = self.alert_host.alert_desk
        if desk is None or not desk.open:
            return
        ref = desk.oldest_mine() or desk.open[0]
        _done, refused = await desk.acknowledge([ref])
        if refused:
            desk.tell_refused(refused, 1)
            return
        self.select_request(ref.request.id)

    async def action_acknowledge_all_alerts(self) -> None:
        """Acknowledge every unacknowledged alert this user may, those of closed requests too
        (one mutation each, with who and when)."""
        desk = self.alert_host.alert_desk
        if desk is None:
            return
        every = [*desk.open, *desk.closed]
        mine = [ref for ref in every if desk.may_acknowledge(ref)]
        if not mine and every:
            mine = every[:1]  # so the rule book says why not
        done, refused = await desk.acknowledge(mine)
        desk.tell_refused(refused, len(mine))
        if done:
            self.notify(f"Acknowledged {done} alert{'s' if done > 1 else ''}", timeout=3)

    def select_request(self, request_id: str) -> None:
        """Put the cursor on a request, shown even when the filter or view hides it."""
        request = self.engine.get(request_id)
        if request is None:
            return
        self.model.pinned.add(request_id)
        self.model.upsert([request])
        self.table.reload()
        self.table.select_id(request_id)
