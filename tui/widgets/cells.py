"""How one field of a request reads in a table cell (text plus a style name).

Kept apart from the table so the detail screen and the night-manager view say the same thing
the same way: an SLA countdown turns amber past 75 % of the allowed time and red when late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from protocol.models import Request, Status

SLA_WARN_FRACTION = 0.75
"""Past this share of the allowed time, the countdown turns amber."""

STATUS_LABEL: dict[Status, str] = {
    Status.PENDING: "pending",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.IN_PROGRESS: "in progress",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "cancelled",
}


def span(delta: timedelta) -> str:
    """A short duration: ``45s``, ``12m``, ``1h05``, ``2d03h``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def sla_state(request: Request, now: datetime) -> str:
    """``ok``, ``warn`` (past 75 % of the allowed time), ``late`` (overdue) or ``closed``."""
    if not request.is_open:
        return "closed"
    if request.is_overdue(now):
        return "late"
    allowed = (request.due_at - request.created_at).total_seconds()
    elapsed = (now - request.created_at).total_seconds()
    if allowed > 0 and elapsed >= SLA_WARN_FRACTION * allowed:
        return "warn"
    return "ok"


def sla_cell(request: Request, now: datetime) -> tuple[str, str]:
    """The SLA column: time left (``-`` when overdue) for open requests, age for closed ones."""
    state = sla_state(request, now)
    if state == "closed":
        return span(now - request.created_at) + " ago", state
    left = request.due_at - now
    return ("-" if state == "late" else "") + span(left), state


def number_cell(request: Request) -> str:
    """``#123`` once the server numbered the request, ``…`` until then."""
    return f"#{request.number}" if request.number is not None else "…"


def category_label(value: str) -> str:
    return value.replace("_", " ")
