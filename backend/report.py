"""The handover report, computed from request rows: pure Python, no I/O, no clock.

The store reads the rows that can matter to a period (``Store.report_rows``: open now, or
changed since the period began, by an indexed query) and ``build_report`` decides the rest.
The rules, as ``docs/OPERATIONS.md`` states them to the people judged by them:

- A request is *closed* when it was completed (at ``completed_at``) or cancelled (at its last
  change: a cancelled row keeps no time of its own).
- *Opened* / *closed*: created / closed within ``[since, until)``.
- *Still open*: created before ``as_of`` (``until``, or now if the period is not over) and not
  closed by then; its age is ``as_of - created_at``.
- *SLA breach*: a deadline in ``[since, as_of)`` that passed with the request open: every
  ``sla_breach`` alert's deadline, and the row's current ``due_at`` when the request was not
  closed by it (so breaches count even when no server was running to raise the alert).
- *Alerts*: raised within ``[since, until)``, with who acknowledged them and how long after.
- *Times* to acknowledge, start and complete run from ``created_at``; each is counted in the
  period its event happened in, by category and by the request's assignee.
- *On time*: of the requests completed in the period, those completed by their deadline with
  no SLA breach on record (an escalation moves ``due_at`` later, the breach alert remembers).
- Median and p90 interpolate linearly between the two nearest values (the "inclusive" method
  of ``statistics.quantiles``; a spreadsheet's ``PERCENTILE.INC``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from protocol.models import Category, Request, Status
from protocol.report import (
    UNASSIGNED,
    AlertItem,
    Breach,
    Durations,
    OnTime,
    OpenItem,
    Report,
    Times,
)

MAX_PERIOD = timedelta(days=366)
"""The longest period a report covers (a year, leap years included)."""


class PeriodError(ValueError):
    """A period the report refuses, with the reason in words."""


def parse_time(text: str, what: str, naive_zone_ok: bool = False) -> datetime:
    """An ISO 8601 time with a zone (``2026-12-05T07:00:00Z``); with ``naive_zone_ok`` a time
    without one is taken in the machine's local zone (what a person types at a shell)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PeriodError(
            f"{what} is not a time: {text!r} (use ISO 8601, e.g. 2026-12-05T07:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        if not naive_zone_ok:
            raise PeriodError(f"{what} needs a time zone, e.g. {text.strip()}Z or +01:00")
        moment = moment.astimezone()
    return moment


def check_period(since: datetime, until: datetime) -> None:
    """Raise ``PeriodError`` for an empty, reversed or over-long period."""
    if until <= since:
        raise PeriodError("until must be after since")
    if until - since > MAX_PERIOD:
        raise PeriodError("a report covers at most a year (366 days)")


def quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) interpolated linearly between the nearest ranks; None when
    there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(values: list[float]) -> Durations:
    return Durations(count=len(values), median_s=quantile(values, 0.5), p90_s=quantile(values, 0.9))


def closed_at(row: Request) -> datetime | None:
    """When the request was closed (completed or cancelled), None while open."""
    if row.status == Status.COMPLETED:
        return row.completed_at or row.updated_at
    if row.status == Status.CANCELLED:
        return row.updated_at
    return None


def status_at(row: Request, moment: datetime) -> Status:
    """The request's status at ``moment`` as far as its row tells (for one open then)."""
    closed = closed_at(row)
    if closed is not None and closed <= moment:
        return row.status
    if row.started_at is not None and row.started_at <= moment:
        return Status.IN_PROGRESS
    if row.acknowledged_at is not None and row.acknowledged_at <= moment:
        return Status.ACKNOWLEDGED
    return Status.PENDING


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _breaches(row: Request, since: datetime, as_of: datetime) -> list[Breach]:
    closed = closed_at(row)
    deadlines = {a.due_at for a in row.alerts if a.kind == "sla_breach" and a.due_at is not None}
    if row.created_at <= row.due_at and (closed is None or closed > row.due_at):
        deadlines.add(row.due_at)
    out = []
    for due in sorted(deadlines):
        if not since <= due < as_of:
            continue
        end = closed if closed is not None and closed <= as_of else as_of
        out.append(
            Breach(
                id=row.id,
                number=row.number,
                room=row.room,
                category=row.category,
                priority=row.priority,
                assignee=row.assignee,
                status=row.status,
                due_at=due,
                closed_at=closed if closed is not None and closed <= as_of else None,
                late_s=_seconds(end, due),
            )
        )
    return out


def _on_time(row: Request) -> bool:
    assert row.completed_at is not None
    breached = any(a.kind == "sla_breach" for a in row.alerts)
    return not breached and row.completed_at <= row.due_at


def _on_time_line(key: str, results: list[bool]) -> OnTime:
    done = sum(results)
    percent = round(100.0 * done / len(results), 1) if results else None
    return OnTime(key=key, completed=len(results), on_time=done, percent=percent)


def _staff_order(name: str) -> tuple[bool, str]:
    return (name == UNASSIGNED, name)


def build_report(
    rows: Iterable[Request],
    since: datetime,
    until: datetime,
    now: datetime,
    shift: str | None = None,
) -> Report:
    """The report over ``[since, until)`` from ``rows`` (any superset of the requests open or
    changed in the period: the others are left out here), taken at ``min(until, now)``."""
    as_of = min(until, now)
    opened = completed = cancelled = 0
    still_open: list[OpenItem] = []
    breaches: list[Breach] = []
    alert_items: list[AlertItem] = []
    steps = ("acknowledge", "start", "complete")
    by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_staff: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    on_time_category: dict[str, list[bool]] = defaultdict(list)
    on_time_staff: dict[str, list[bool]] = defaultdict(list)
    on_time_all: list[bool] = []

    for row in rows:
        if row.created_at >= until:
            continue
        closed = closed_at(row)
        if since <= row.created_at:
            opened += 1
        if closed is not None and since <= closed < until:
            if row.status == Status.COMPLETED:
                completed += 1
            else:
                cancelled += 1
        if row.created_at < as_of and (closed is None or closed >= as_of):
            still_open.append(
                OpenItem(
                    id=row.id,
                    number=row.number,
                    room=row.room,
                    category=row.category,
                    priority=row.priority,
                    status=status_at(row, as_of),
                    assignee=row.assignee,
                    created_at=row.created_at,
                    due_at=row.due_at,
                    age_s=_seconds(as_of, row.created_at),
                    overdue=row.due_at <= as_of,
                )
            )
        breaches += _breaches(row, since, as_of)
        for alert in row.alerts:
            if since <= alert.at < until:
                alert_items.append(
                    AlertItem(
                        id=row.id,
                        number=row.number,
                        room=row.room,
                        kind=alert.kind,
                        at=alert.at,
                        acknowledged_by=alert.acknowledged_by,
                        acknowledged_at=alert.acknowledged_at,
                        to_acknowledge_s=None
                        if alert.acknowledged_at is None
                        else _seconds(alert.acknowledged_at, alert.at),
                    )
                )
        staff = row.assignee or UNASSIGNED
        for step, moment in zip(
            steps, (row.acknowledged_at, row.started_at, row.completed_at), strict=True
        ):
            if moment is not None and since <= moment < until:
                took = _seconds(moment, row.created_at)
                by_category[row.category.value][step].append(took)
                by_staff[staff][step].append(took)
        if (
            row.status == Status.COMPLETED
            and row.completed_at is not None
            and since <= row.completed_at < until
        ):
            good = _on_time(row)
            on_time_all.append(good)
            on_time_category[row.category.value].append(good)
            on_time_staff[staff].append(good)

    categories = [c.value for c in Category]

    def times(groups: dict[str, dict[str, list[float]]], keys: list[str]) -> list[Times]:
        return [
            Times(
                key=k,
                acknowledge=durations(groups[k]["acknowledge"]),
                start=durations(groups[k]["start"]),
                complete=durations(groups[k]["complete"]),
            )
            for k in keys
            if k in groups
        ]

    acked = [a.to_acknowledge_s for a in alert_items if a.to_acknowledge_s is not None]
    still_open.sort(key=lambda o: (o.created_at, o.number or 0))
    breaches.sort(key=lambda b: (b.due_at, b.number or 0))
    alert_items.sort(key=lambda a: (a.at, a.number or 0))
    return Report(
        since=since,
        until=until,
        as_of=as_of,
        shift=shift,
        opened=opened,
        completed=completed,
        cancelled=cancelled,
        still_open=still_open,
        breaches=breaches,
        alerts=alert_items,
        alerts_acknowledged=len(acked),
        alert_acknowledge=durations(acked),
        times_by_category=times(by_category, categories),
        times_by_staff=times(by_staff, sorted(by_staff, key=_staff_order)),
        on_time=_on_time_line("all", on_time_all),
        on_time_by_category=[
            _on_time_line(c, on_time_category[c]) for c in categories if c in on_time_category
        ],
        on_time_by_staff=[
            _on_time_line(s, on_time_staff[s]) for s in sorted(on_time_staff, key=_staff_order)
        ],
    )


def rows_from_json(data: Iterable[str]) -> list[Request]:
    """Request rows from the JSON the store holds."""
    return [Request.model_validate_json(d) for d in data]
