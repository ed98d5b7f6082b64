"""The handover report's shape, and its Markdown and CSV text.

The server computes a report (``backend/report.py``) and sends it as JSON
(``GET /api/v1/report``); ``frontdesk report`` prints it, and the TUI's handover screen shows it
and saves it. All three read this one model and print it with the same functions here, so a
report pasted from the CLI into an email reads like the one saved from a terminal.

Durations are seconds (floats); times are aware UTC datetimes (Markdown shows them in the
zone the caller passes: the reader's, not the server's).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from pydantic import BaseModel, ConfigDict

from protocol.models import OPEN_STATUSES, AlertKind, Category, Priority, Status

UNASSIGNED = "(unassigned)"
"""The staff key of requests nobody was assigned to."""

OPEN_STATUS_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in OPEN_STATUSES))
"""The statuses of an open request, as stored (the report's query reads every open row)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Durations(_Frozen):
    """How long something took over ``count`` requests: median and 90th percentile."""

    count: int = 0
    median_s: float | None = None
    p90_s: float | None = None


class Times(_Frozen):
    """Time from creation to acknowledge, to start and to complete, for one group."""

    key: str
    """A category, or a staff member's name (``UNASSIGNED`` for nobody)."""
    acknowledge: Durations
    start: Durations
    complete: Durations


class OnTime(_Frozen):
    """Requests completed in the period, and how many of them by their SLA deadline."""

    key: str
    completed: int
    on_time: int
    percent: float | None
    """``100 * on_time / completed``, one decimal; None when nothing was completed."""


class OpenItem(_Frozen):
    """A request still open at the end of the period."""

    id: str
    number: int | None
    room: str
    category: Category
    priority: Priority
    status: Status
    """Its status at the end of the period."""
    assignee: str | None
    created_at: datetime
    due_at: datetime
    age_s: float
    overdue: bool


class Breach(_Frozen):
    """A deadline that passed in the period with its request still open."""

    id: str
    number: int | None
    room: str
    category: Category
    priority: Priority
    assignee: str | None
    status: Status
    """The request's status now."""
    due_at: datetime
    closed_at: datetime | None
    """When the request was completed or cancelled after the deadline (None: still open)."""
    late_s: float
    """From the deadline to its closing, or to the end of the period while it stays open."""


class AlertItem(_Frozen):
    """An alert raised in the period, and who acknowledged it after how long."""

    id: str
    number: int | None
    room: str
    kind: AlertKind
    at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    to_acknowledge_s: float | None


class Report(_Frozen):
    """Everything the morning manager reads about one period ``[since, until)``."""

    since: datetime
    until: datetime
    as_of: datetime
    """When the figures were taken: ``until``, or the server's clock if the period is not over."""
    shift: str | None = None
    """The shift this period is (``night``, ...), when it was asked for by shift."""
    opened: int
    completed: int
    cancelled: int
    still_open: list[OpenItem]
    breaches: list[Breach]
    alerts: list[AlertItem]
    alerts_acknowledged: int
    alert_acknowledge: Durations
    """Time from an alert being raised to its acknowledgement, over the acknowledged ones."""
    times_by_category: list[Times]
    times_by_staff: list[Times]
    on_time: OnTime
    """Every request completed in the period (key ``all``)."""
    on_time_by_category: list[OnTime]
    on_time_by_staff: list[OnTime]

    @property
    def closed(self) -> int:
        """Requests completed or cancelled in the period."""
        return self.completed + self.cancelled


# -- text ------------------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    """``4m 05s``, ``2h 10m``, ``1d 3h``; an em dash for no figure."""
    if seconds is None:
        return "—"
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _when(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened (user text stays literal)."""
    text = "—" if value is None or value == "" else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + (body or ["| " + " | ".join(["—"] * len(headers)) + " |"])


def _number(value: int | None) -> str:
    return "—" if value is None else f"#{value}"


def to_markdown(report: Report, zone: tzinfo | None = None) -> str:
    """The report as Markdown, fit to paste into an email or print; times in ``zone`` (the
    local zone when None)."""
    title = f"{report.shift} shift" if report.shift else "Report"
    out = [
        f"# Handover: {title}, {_when(report.since, zone)} to {_when(report.until, zone)}",
        "",
        f"Figures as of {_when(report.as_of, zone)}.",
        "",
        f"- Opened: {report.opened}",
        f"- Closed: {report.closed} ({report.completed} completed, {report.cancelled} cancelled)",
        f"- Still open: {len(report.still_open)}",
        f"- SLA breaches: {len(report.breaches)}",
        f"- Alerts: {len(report.alerts)} ({report.alerts_acknowledged} acknowledged,"
        f" median {duration_text(report.alert_acknowledge.median_s)},"
        f" p90 {duration_text(report.alert_acknowledge.p90_s)})",
        f"- On time: {percent_text(report.on_time.percent)}"
        f" ({report.on_time.on_time} of {report.on_time.completed} completed)",
        "",
        "## Still open",
        "",
        *_table(
            ("Ticket", "Room", "Category", "Priority", "Status", "Assignee", "Age", "Due"),
            (
                (
                    _number(o.number),
                    o.room,
                    o.category.value,
                    o.priority.value,
                    o.status.value,
                    o.assignee,
                    duration_text(o.age_s),
                    _when(o.due_at, zone) + (" (overdue)" if o.overdue else ""),
                )
                for o in report.still_open
            ),
        ),
        "",
        "## SLA breaches",
        "",
        *_table(
            ("Ticket", "Room", "Category", "Priority", "Assignee", "Due", "Late by", "Status"),
            (
                (
                    _number(b.number),
                    b.room,
                    b.category.value,
                    b.priority.value,
                    b.assignee,
                    _when(b.due_at, zone),
                    duration_text(b.late_s) + ("" if b.closed_at else " (still open)"),
                    b.status.value,
                )
                for b in report.breaches
            ),
        ),
        "",
        "## Alerts",
        "",
        *_table(
            ("Ticket", "Room", "Kind", "Raised", "Acknowledged by", "After"),
            (
                (
                    _number(a.number),
                    a.room,
                    a.kind,
                    _when(a.at, zone),
                    a.acknowledged_by or "not acknowledged",
                    duration_text(a.to_acknowledge_s),
                )
                for a in report.alerts
            ),
        ),
        "",
    ]
    for heading, groups in (
        ("Times by category", report.times_by_category),
        ("Times by staff", report.times_by_staff),
    ):
        out += [f"## {heading} (median / p90)", "", *_times_table(groups), ""]
    for heading, rows in (
        ("On time by category", report.on_time_by_category),
        ("On time by staff", report.on_time_by_staff),
    ):
        out += [
            f"## {heading}",
            "",
            *_table(
                ("", "Completed", "On time", "%"),
                ((r.key, r.completed, r.on_time, percent_text(r.percent)) for r in rows),
            ),
            "",
        ]
    return "\n".join(out)


def _pair(d: Durations) -> str:
    if not d.count:
        return "—"
    return f"{duration_text(d.median_s)} / {duration_text(d.p90_s)} (n={d.count})"


def _times_table(groups: Sequence[Times]) -> list[str]:
    return _table(
        ("", "Acknowledge", "Start", "Complete"),
        ((g.key, _pair(g.acknowledge), _pair(g.start), _pair(g.complete)) for g in groups),
    )


CSV_COLUMNS = ("section", "key", "figure", "value")


def to_csv(report: Report) -> str:
    """The report as CSV: one figure a line (section, key, figure, value), times in ISO 8601
    UTC and durations in seconds, so a spreadsheet can sum and chart them."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)

    def iso(moment: datetime | None) -> str:
        return "" if moment is None else moment.isoformat().replace("+00:00", "Z")

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text

    def row(*values: object) -> None:
        w.writerow([cell(v) for v in values])

    row("period", "", "since", iso(report.since))
    row("period", "", "until", iso(report.until))
    row("period", "", "as_of", iso(report.as_of))
    row("period", "", "shift", report.shift)
    for figure in ("opened", "completed", "cancelled"):
        row("summary", "", figure, getattr(report, figure))
    row("summary", "", "still_open", len(report.still_open))
    row("summary", "", "breaches", len(report.breaches))
    row("summary", "", "alerts", len(report.alerts))
    row("summary", "", "alerts_acknowledged", report.alerts_acknowledged)
    for o in report.still_open:
        key = o.number if o.number is not None else o.id
        row("still_open", key, "room", o.room)
        row("still_open", key, "age_s", round(o.age_s, 3))
    for b in report.breaches:
        key = b.number if b.number is not None else b.id
        row("breach", key, "due_at", iso(b.due_at))
        row("breach", key, "late_s", round(b.late_s, 3))
    for a in report.alerts:
        key = a.number if a.number is not None else a.id
        row(f"alert:{a.kind}", key, "acknowledged_by", a.acknowledged_by)
        row(f"alert:{a.kind}", key, "to_acknowledge_s", a.to_acknowledge_s)
    for section, groups in (
        ("category", report.times_by_category),
        ("staff", report.times_by_staff),
    ):
        for g in groups:
            for step in ("acknowledge", "start", "complete"):
                d: Durations = getattr(g, step)
                row(f"times_by_{section}", g.key, f"{step}_count", d.count)
                row(f"times_by_{section}", g.key, f"{step}_median_s", d.median_s)
                row(f"times_by_{section}", g.key, f"{step}_p90_s", d.p90_s)
    for section, ontime in (
        ("on_time", [report.on_time]),
        ("on_time_by_category", report.on_time_by_category),
        ("on_time_by_staff", report.on_time_by_staff),
    ):
        for r in ontime:
            row(section, r.key, "completed", r.completed)
            row(section, r.key, "on_time", r.on_time)
            row(section, r.key, "percent", r.percent)
    return out.getvalue()
