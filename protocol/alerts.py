"""The alert rules: when a request raises an alert, who may acknowledge it, when it rings again.

Alerts are records in their request (``Request.alerts``). The mutators call these rules when they
build a new row, the server's SLA job asks them which deadlines are breached and which bells are
due, and both sides derive the ``alert`` frames (the bell) from the difference between a row and
the row before it. Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.models import AlertKind, AlertRecord, Priority, Request, Role
from protocol.rules import Actor, Code, Rejection

DEFAULT_REPEAT_SECONDS = 600.0
"""How long an alert may stay unacknowledged before the bell rings again (server setting
``alert_repeat_seconds``)."""


def raised(kind: AlertKind, now: datetime, due_at: datetime | None = None) -> AlertRecord:
    """A new, unacknowledged alert whose bell rings now."""
    return AlertRecord(kind=kind, at=now, due_at=due_at, rung_at=now)


def urgent_alerts(old: Request | None, new: Request, now: datetime) -> tuple[AlertRecord, ...]:
    """``new.alerts`` plus an ``urgent`` alert when the change made an open request urgent.

    A create of an urgent request raises one; so does an edit that raises an open request to
    urgent. A request that was already urgent raises nothing again.
    """
    if new.priority != Priority.URGENT or not new.is_open:
        return new.alerts
    if old is not None and old.priority == Priority.URGENT and old.is_open:
        return new.alerts
    return (*new.alerts, raised("urgent", now))


def check_acknowledge(request: Request, index: int, actor: Actor) -> Rejection | None:
    """Why ``actor`` may not acknowledge alert ``index`` of ``request``, or None.

    Managers may acknowledge any alert; staff only the alerts of requests assigned to them (the
    person who takes responsibility is the one on record).
    """
    if not 0 <= index < len(request.alerts):
        return Rejection(
            Code.INVALID,
            f"request has no alert {index}",
            {"index": f"must be between 0 and {len(request.alerts) - 1}"}
            if request.alerts
            else {"index": "this request has no alerts"},
        )
    if may_acknowledge(request, actor):
        return None
    return Rejection(
        Code.FORBIDDEN, "only a manager or the request's assignee may acknowledge its alerts"
    )


def may_acknowledge(request: Request, actor: Actor) -> bool:
    """True when ``actor`` may acknowledge this request's alerts (for screens to offer it)."""
    return actor.at_least(Role.MANAGER) or (
        request.assignee is not None and actor.user == request.assignee
    )


def acknowledged(request: Request, index: int, actor: Actor, now: datetime) -> AlertRecord | None:
    """Alert ``index`` acknowledged by ``actor`` now, or None when it already was (the first
    acknowledgement stays on record)."""
    alert = request.alerts[index]
    if not alert.is_open:
        return None
    return alert.model_copy(update={"acknowledged_by": actor.user, "acknowledged_at": now})


def breach_raised(request: Request, due_at: datetime) -> bool:
    """True when an ``sla_breach`` for deadline ``due_at`` is already on record."""
    return any(a.kind == "sla_breach" and a.due_at == due_at for a in request.alerts)


def is_breached(request: Request, now: datetime) -> bool:
    """True when the request is open, past its deadline, and that breach is not yet raised."""
    return request.is_overdue(now) and not breach_raised(request, request.due_at)


def due_to_ring(alert: AlertRecord, rung_before: datetime) -> bool:
    """True when ``alert`` is open and its bell last rang at or before ``rung_before``."""
    return alert.is_open and alert.rung_at is not None and alert.rung_at <= rung_before


def open_alerts(request: Request) -> Iterator[tuple[int, AlertRecord]]:
    """(index, alert) of every unacknowledged alert of ``request``, oldest first."""
    for index, alert in enumerate(request.alerts):
        if alert.is_open:
            yield index, alert


def next_ring(request: Request, repeat_seconds: float) -> datetime | None:
    """When the bell rings next for this request's open alerts (None: it will not ring)."""
    if not request.is_open:
        return None
    times = [a.rung_at for _, a in open_alerts(request) if a.rung_at is not None]
    if not times:
        return None
    return min(times) + timedelta(seconds=repeat_seconds)


@dataclass(frozen=True, slots=True)
class Bell:
    """One ring of the bell a change causes: alert ``index`` of the row, of ``kind``."""

    index: int
    kind: AlertKind
    repeat: bool
    """True when the alert was raised before and rings again (unacknowledged)."""


def bells(new: Request) -> list[Bell]:
    """The bells a change rings: each alert it raised or rang again.

    Raising and ringing set the alert's ``rung_at`` to the change's own time, which is also the
    row's ``updated_at``; no other change moves ``rung_at``. So the row after the change says
    it alone, without the row before it: an instance following a change of a request it does
    not hold in memory (closed long ago) rings exactly what the committing instance rang.
    """
    at = new.updated_at
    return [
        Bell(index, alert.kind, repeat=alert.at != at)
        for index, alert in enumerate(new.alerts)
        if alert.rung_at == at and alert.is_open
    ]
