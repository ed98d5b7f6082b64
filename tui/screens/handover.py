"""The handover screen: the shift's report as the morning manager reads it, at a glance.

The server computes the report (``GET /api/v1/report``, through ``Engine.fetch_report``): the
shift that just ended by default, ``s`` switches to the one running now and back. A worker
fetches and posts a message; the handler draws. ``ctrl+s`` saves the report as Markdown (the
text ``frontdesk report`` prints) in the user's documents directory. Offline, the screen says
in words that the report needs the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static
from textual_plotext import PlotextPlot

from offline.errors import ServerApiError
from protocol.report import Report, Times, duration_text, percent_text, to_markdown
from tui.text import literal
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from offline.engine import Engine

SHIFTS = ("last", "current")
"""What ``s`` switches between: the shift handed over, and the one running now."""


class ReportArrived(Message, bubble=False):
    """The server's report, or why there is none."""

    def __init__(self, report: Report | None, error: str | None) -> None:
        super().__init__()
        self.report = report
        self.error = error


class ReportSaved(Message, bubble=False):
    """The Markdown file was written (``path``), or why not (``error``)."""

    def __init__(self, path: Path | None, error: str | None) -> None:
        super().__init__()
        self.path = path
        self.error = error


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%a %d %b %H:%M")


def _number(value: int | None) -> str:
    return "—" if value is None else f"#{value}"


def _times(group: Times) -> list[Text | str]:
    def pair(step: str) -> str:
        d = getattr(group, step)
        return f"{duration_text(d.median_s)} / {duration_text(d.p90_s)}" if d.count else "—"

    return [literal(group.key), pair("acknowledge"), pair("start"), pair("complete")]


class HandoverScreen(Screen[None]):
    """Summary, on-time chart by category, and the tables a handover goes through."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="handover.back"),
        Binding("s", "switch_shift", "Switch shift", id="handover.switch"),
        Binding("r", "refresh", "Refresh", id="handover.refresh"),
        Binding("ctrl+s", "save", "Save as Markdown", id="handover.save"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        period: tuple[datetime, datetime] | None = None,
        documents_dir: Path | None = None,
    ) -> None:
        """``period`` asks for fixed times instead of a shift (screenshots, tests);
        ``documents_dir`` is where ``ctrl+s`` saves (default: the user's documents)."""
        super().__init__()
        self.engine = engine
        self.period = period
        self.shift = SHIFTS[0]
        self.documents_dir = documents_dir
        self.report: Report | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Asking the server for the report…", id="handover-note")
        with VerticalScroll(id="handover-body"):
            yield Static("", id="handover-summary")
            yield PlotextPlot(id="handover-chart")
            for key, title in (
                ("open", "Still open"),
                ("breaches", "SLA breaches"),
                ("alerts", "Alerts"),
                ("times", "Times from creation by category (median / p90)"),
                ("staff-times", "Times from creation by staff (median / p90)"),
                ("staff", "On time by staff"),
            ):
                yield Label(title, classes="handover-heading")
                yield DataTable(id=f"handover-{key}", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "frontdesk"
        self.sub_title = "Handover"
        columns = {
            "open": ("Ticket", "Room", "Category", "Priority", "Status", "Assignee", "Age"),
            "breaches": ("Ticket", "Room", "Category", "Assignee", "Due", "Late by"),
            "alerts": ("Ticket", "Room", "Kind", "Raised", "Acknowledged by", "After"),
            "times": ("Category", "Acknowledge", "Start", "Complete"),
            "staff-times": ("Staff", "Acknowledge", "Start", "Complete"),
            "staff": ("Staff", "Completed", "On time", "%"),
        }
        for key, names in columns.items():
            self.query_one(f"#handover-{key}", DataTable).add_columns(*names)
        self.action_refresh()

    # -- fetching ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.engine.config.server_url is None:
            self.post_message(
                ReportArrived(None, "Offline only: the handover report comes from the server.")
            )
            return
        self._fetch()

    def action_switch_shift(self) -> None:
        self.period = None
        self.shift = SHIFTS[(SHIFTS.index(self.shift) + 1) % len(SHIFTS)]
        self.query_one("#handover-note", Static).update(f"Asking for the {self.shift} shift…")
        self.action_refresh()

    @work(group="report", exclusive=True)
    async def _fetch(self) -> None:
        try:
            if self.period is not None:
                since, until = self.period
                report = await self.engine.fetch_report(since=since, until=until)
            else:
                report = await self.engine.fetch_report(shift=self.shift)
        except ServerApiError as error:
            self.post_message(ReportArrived(None, f"No report: {error}"))
            return
        self.post_message(ReportArrived(report, None))

    # -- drawing -------------------------------------------------------------------------------

    @on(ReportArrived)
    def _arrived(self, message: ReportArrived) -> None:
        note = self.query_one("#handover-note", Static)
        if message.report is None:
            note.update(literal(message.error or ""))
            note.add_class("-stale")
            return
        note.remove_class("-stale")
        report = self.report = message.report
        name = f"{report.shift} shift" if report.shift else "Period"
        note.update(
            f"{name}: {_when(report.since)} to {_when(report.until)}"
            f"  (figures as of {_when(report.as_of)})"
        )
        self.sub_title = f"Handover — {name}"
        self.query_one("#handover-summary", Static).update(self._summary(report))
        self._chart(report)
        self._fill(
            "open",
            [
                [
                    _number(o.number),
                    literal(o.room),
                    o.category.value,
                    o.priority.value,
                    o.status.value,
                    literal(o.assignee or "—"),
                    Text(duration_text(o.age_s), style="bold red" if o.overdue else ""),
                ]
                for o in report.still_open
            ],
        )
        self._fill(
            "breaches",
            [
                [
                    _number(b.number),
                    literal(b.room),
                    b.category.value,
                    literal(b.assignee or "—"),
                    _when(b.due_at),
                    duration_text(b.late_s) + ("" if b.closed_at else " (open)"),
                ]
                for b in report.breaches
            ],
        )
        self._fill(
            "alerts",
            [
                [
                    _number(a.number),
                    literal(a.room),
                    a.kind,
                    _when(a.at),
                    literal(a.acknowledged_by)
                    if a.acknowledged_by
                    else Text("not acknowledged", style="bold red"),
                    duration_text(a.to_acknowledge_s),
                ]
                for a in report.alerts
            ],
        )
        self._fill("times", [_times(g) for g in report.times_by_category])
        self._fill("staff-times", [_times(g) for g in report.times_by_staff])
        self._fill(
            "staff",
            [
                [literal(r.key), str(r.completed), str(r.on_time), percent_text(r.percent)]
                for r in report.on_time_by_staff
            ],
        )

    def _summary(self, report: Report) -> Text:
        text = Text()
        figures = (
            ("Opened", str(report.opened)),
            ("Closed", f"{report.closed} ({report.completed} done, {report.cancelled} cancelled)"),
            ("Still open", str(len(report.still_open))),
            ("SLA breaches", str(len(report.breaches))),
            ("Alerts", f"{len(report.alerts)} ({report.alerts_acknowledged} acknowledged)"),
            ("On time", percent_text(report.on_time.percent)),
        )
        for i, (name, value) in enumerate(figures):
            if i:
                text.append("\n" if i == 3 else "   ")
            text.append(f"{name} ", style="dim")
            text.append(value, style="bold")
        return text

    def _chart(self, report: Report) -> None:
        plot = self.query_one("#handover-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        rows = [r for r in report.on_time_by_category if r.percent is not None]
        if rows:
            plt.bar([r.key for r in rows], [r.percent or 0.0 for r in rows])
            plt.title("On time % by category")
        else:
            plt.title("On time % by category: nothing completed in this period")
        plt.ylim(0, 100)
        plot.refresh()

    def _fill(self, key: str, rows: Sequence[Sequence[Text | str]]) -> None:
        table = self.query_one(f"#handover-{key}", DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row)
        if not rows:
            table.add_row(*(["—"] * len(table.columns)))

    # -- saving --------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.report is None:
            self.notify("No report to save yet.", severity="warning")
            return
        self._save(self.report)

    @work(group="save", thread=True)
    def _save(self, report: Report) -> None:
        folder = self.documents_dir or Path(platformdirs.user_documents_dir())
        stamp = report.since.astimezone().strftime("%Y-%m-%d-%H%M")
        path = folder / f"frontdesk-handover-{report.shift or 'period'}-{stamp}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(to_markdown(report), encoding="utf-8")
        except OSError as exc:
            self.post_message(ReportSaved(None, f"Not saved: {exc.strerror or exc}"))
            return
        self.post_message(ReportSaved(path, None))

    @on(ReportSaved)
    def _saved(self, message: ReportSaved) -> None:
        if message.path is None:
            self.notify(message.error or "Not saved", severity="error", markup=False)
        else:
            self.notify(f"Saved to {message.path}", title="Handover", markup=False)
