"""``:alerts``: every open alert, oldest first, and the acknowledged ones with who and how long.

Alerts are records in their requests, so this list is the replica's: the same on every
terminal, whatever was missed while offline. Space marks open alerts, ``a`` acknowledges the
marked ones in one go (each its own ``acknowledge_alert``, recorded with who and when; offline
too) or else the highlighted one, ``*`` marks every alert this user may acknowledge, Enter opens
the request. An alert this user may not acknowledge (staff, not the assignee) is listed dimmed
with whose it is; trying it shows the rule book's reason. Alerts of requests completed or
cancelled before anyone acknowledged them are listed apart: nobody is called to them any more
(they are not in the banner or the counter, and the server rings them no more), but they are
still there to acknowledge.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option

from offline.alerts import AlertRef
from offline.events import AlertsChanged, StatusChanged
from protocol.alerts import check_acknowledge
from tui.messages import AlertsUpdated, EngineStatusChanged, bridge
from tui.text import fit, literal
from tui.widgets.alert_text import age, bell_text, kind_label, took
from tui.widgets.cells import STATUS_LABEL, number_cell
from tui.widgets.status_bar import StatusBar
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from tui.alert_desk import AlertDesk

ACKNOWLEDGED_SHOWN = 100
"""Acknowledged alerts listed below the open ones (the most recent)."""
OPEN_HEADER = "open-header"
CLOSED_HEADER = "closed-header"
ACK_HEADER = "ack-header"


def option_id(ref: AlertRef) -> str:
    return f"{ref.request.id}:{ref.index}"


def open_line(ref: AlertRef, now: datetime, marked: bool, allowed: bool, width: int) -> Text:
    """``✓ SLA breach  #1002   817    12m  → meg      Leak under the sink…``"""
    style = "" if allowed else "dim"
    line = Text("✓ " if marked else "  ", style=style, end="")
    line.append_text(fit(Text(kind_label(ref.alert.kind)), 11))
    line.append_text(fit(Text(number_cell(ref.request)), 8))
    line.append_text(fit(literal(ref.request.room), 7))
    line.append_text(fit(Text(age(ref, now), style="bold"), 6))
    who = Text("→ ")
    who.append_text(literal(ref.request.assignee or "nobody"))
    line.append_text(fit(who, 11))
    line.append_text(_description(ref))
    if not allowed:
        line.stylize("dim")
    return fit(line, width)


def acknowledged_line(ref: AlertRef, width: int) -> Text:
    """``  urgent      #1001   1204   meg after 4m, 21:14   Guest locked out…``"""
    alert = ref.alert
    line = Text("  ", end="")
    line.append_text(fit(Text(kind_label(alert.kind)), 11))
    line.append_text(fit(Text(number_cell(ref.request)), 8))
    line.append_text(fit(literal(ref.request.room), 7))
    by = literal(alert.acknowledged_by or "?", style="bold")
    by.append(f" after {took(ref)}")
    if alert.acknowledged_at is not None:
        by.append(alert.acknowledged_at.astimezone().strftime(", %H:%M"), style="dim")
    line.append_text(fit(by, 23))
    line.append_text(_description(ref))
    return fit(line, width)


def _description(ref: AlertRef) -> Text:
    text = Text(end="")
    if not ref.request.is_open:
        text.append(f"{STATUS_LABEL[ref.request.status]} · ", style="dim")
    text.append_text(literal(ref.request.description))
    return text


class AlertsScreen(Screen[None]):
    """Open alerts oldest first, then the acknowledged ones; mark, acknowledge, open."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="alerts.back"),
        Binding("a", "acknowledge", "Acknowledge", id="alerts.acknowledge"),
        Binding("space", "mark", "Mark", id="alerts.mark"),
        Binding("asterisk", "mark_all", "Mark all mine", id="alerts.mark_all"),
        Binding("enter", "open", "Open request", show=False, id="alerts.open"),
    ]

    def __init__(self, desk: AlertDesk, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.desk = desk
        self.engine = desk.engine
        self.clock = clock
        self.marked: set[str] = set()
        """Option ids (request id:index) of the open alerts marked with space."""
        self.refs: dict[str, AlertRef] = {}
        """What each option shows, by option id."""
        self._unsubscribe: Callable[[], None] = lambda: None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield OptionList(id="alerts")
        yield StatusBar(self.engine.config.user, str(self.engine.config.role.value))
        yield Footer()

    @property
    def options(self) -> OptionList:
        return self.query_one(OptionList)

    def on_mount(self) -> None:
        self.title = "frontdesk"
        self._unsubscribe = bridge(self.engine, self, kinds=(AlertsChanged, StatusChanged))
        self.query_one(StatusBar).show(self.engine.status)
        self.options.focus()
        self.call_after_refresh(self.reload)  # the list's width is known after the first layout
        self.set_interval(1.0, self._update_title)
        self.set_interval(15.0, self.reload)  # ages in minutes

    def on_unmount(self) -> None:
        self._unsubscribe()

    def on_resize(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    # -- the list ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Build the list again from the replica, keeping the highlight and the marks."""
        if not self.is_mounted:
            return
        options = self.options
        highlighted = options.highlighted_option
        keep = highlighted.id if highlighted is not None else None
        refs = self.engine.alerts(acknowledged=ACKNOWLEDGED_SHOWN)
        now = self.clock()
        width = max(options.scrollable_content_region.width - 2, 20)
        waiting = [r for r in refs if r.alert.is_open]
        open_refs = [r for r in waiting if r.request.is_open]
        closed = [r for r in waiting if not r.request.is_open]
        done = [r for r in refs if not r.alert.is_open]
        self.refs = {option_id(r): r for r in refs}
        self.marked &= {option_id(r) for r in waiting}

        def line(ref: AlertRef) -> Option:
            oid = option_id(ref)
            allowed = self.desk.may_acknowledge(ref)
            return Option(open_line(ref, now, oid in self.marked, allowed, width), oid)

        items: list[Option] = [Option(self._open_header(len(open_refs)), OPEN_HEADER, True)]
        items.extend(line(r) for r in open_refs)
        if closed:
            head = Text(f"Request closed, alert not acknowledged · {len(closed)}", style="bold")
            items.append(Option(head, CLOSED_HEADER, True))
            items.extend(line(r) for r in closed)
        if done:
            head = Text(f"Acknowledged, most recent first · {len(done)}", style="bold")
            items.append(Option(head, ACK_HEADER, True))
            items.extend(Option(acknowledged_line(r, width), option_id(r)) for r in done)
        options.set_options(items)
        index = self._index_of(keep) if keep is not None else None
        if index is None:
            index = next((i for i, o in enumerate(items) if not o.disabled), None)
        options.highlighted = index
        self._update_title()

    def _open_header(self, count: int) -> Text:
        if not count:
            return Text("No open alerts.", style="bold")
        return Text(f"Open, oldest first · {count}", style="bold")

    def _index_of(self, oid: str) -> int | None:
        try:
            return self.options.get_option_index(oid)
        except LookupError:
            return None

    def _update_title(self) -> None:
        count = self.desk.count
        ring = bell_text(self.desk.next_bell(), self.clock()) if count else ""
        marked = f" · {len(self.marked)} marked" if self.marked else ""
        self.sub_title = f"Alerts · {count} open{marked}" + (f" · {ring}" if ring else "")

    def highlighted_ref(self) -> AlertRef | None:
        option = self.options.highlighted_option
        return self.refs.get(option.id) if option is not None and option.id else None

    # -- engine events -------------------------------------------------------------------

    @on(AlertsUpdated)
    def _alerts_changed(self, message: AlertsUpdated) -> None:
        message.take()
        self.reload()

    @on(EngineStatusChanged)
    def _status(self, message: EngineStatusChanged) -> None:
        self.query_one(StatusBar).show(message.status)

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.marked:
            self.marked.clear()
            self.reload()
        else:
            self.app.pop_screen()

    def action_mark(self) -> None:
        """Mark or unmark the highlighted open alert; one this user may not acknowledge is
        not marked, and the rule book says why."""
        ref = self.highlighted_ref()
        if ref is None or not ref.alert.is_open:
            return
        oid = option_id(ref)
        if oid in self.marked:
            self.marked.discard(oid)
        elif refusal := check_acknowledge(ref.request, ref.index, self.engine.actor):
            self.desk.tell_refused([refusal.message], 1)
            return
        else:
            self.marked.add(oid)
        self.reload()
        self.options.action_cursor_down()

    def action_mark_all(self) -> None:
        """Mark every unacknowledged alert this user may acknowledge."""
        self.marked = {oid for oid, r in self.refs.items() if r.alert.is_open}
        self.marked = {oid for oid in self.marked if self.desk.may_acknowledge(self.refs[oid])}
        self.reload()

    def action_acknowledge(self) -> None:
        """The marked alerts, in one go, or else the highlighted one."""
        refs = [self.refs[oid] for oid in self.marked if oid in self.refs]
        if not refs:
            ref = self.highlighted_ref()
            if ref is None or not ref.alert.is_open:
                return
            refs = [ref]
        refs.sort(key=lambda r: r.alert.at)
        self._acknowledge(refs)

    @work(group="acknowledge", exclusive=False)
    async def _acknowledge(self, refs: list[AlertRef]) -> None:
        done, refused = await self.desk.acknowledge(refs)
        self.desk.tell_refused(refused, len(refs))
        self.marked -= {option_id(r) for r in refs if not self._still_open(r)}
        if done:
            self.notify(f"Acknowledged {done} alert{'s' if done > 1 else ''}", timeout=3)
        self.reload()

    def _still_open(self, ref: AlertRef) -> bool:
        request = self.engine.get(ref.request.id)
        if request is None or ref.index >= len(request.alerts):
            return False
        return request.alerts[ref.index].is_open

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """Open the highlighted alert's request."""
        from tui.screens.detail import DetailScreen

        ref = self.highlighted_ref()
        if ref is not None:
            self.app.push_screen(DetailScreen(self.engine, ref.request.id, clock=self.clock))
