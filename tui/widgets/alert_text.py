"""How an alert reads, written once for the banner, the notices and the alerts screen.

User text (room, description) is shown literally (``tui.text``); times count from the app's
clock (the server's time as this terminal knows it), so a fixed clock gives the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.text import Text

from offline.alerts import AlertRef
from protocol.alerts import next_ring
from tui.text import literal
from tui.widgets.cells import number_cell, span

KIND_LABEL: dict[str, str] = {
    "urgent": "urgent",
    "sla_breach": "SLA breach",
    "escalated": "escalated",
}


def kind_label(kind: str) -> str:
    return KIND_LABEL.get(kind, kind.replace("_", " "))


def headline(ref: AlertRef) -> Text:
    """``SLA BREACH #12 room 817``: what and where, user text literal."""
    text = Text(f"{kind_label(ref.alert.kind).upper()} {number_cell(ref.request)} room ", end="")
    text.append_text(literal(ref.request.room))
    return text


def one_line(ref: AlertRef) -> str:
    """``urgent #12 room 817: Leak…`` as plain text (notifications take plain strings)."""
    return (
        f"{kind_label(ref.alert.kind)} {number_cell(ref.request)} room "
        f"{literal(ref.request.room).plain}: {literal(ref.request.description).plain}"
    )


def short_line(ref: AlertRef) -> str:
    """``urgent #12 room 817`` as plain text."""
    room = literal(ref.request.room).plain
    return f"{kind_label(ref.alert.kind)} {number_cell(ref.request)} room {room}"


def next_bell(refs: Iterable[AlertRef], repeat_seconds: float) -> datetime | None:
    """When the server rings the bell next for any of these open alerts (None: it will not:
    only the alerts of open requests ring again)."""
    times = {ref.request.id: next_ring(ref.request, repeat_seconds) for ref in refs}
    due = [t for t in times.values() if t is not None]
    return min(due) if due else None


def bell_text(at: datetime | None, now: datetime) -> str:
    """``bell again in 7m`` (or ``bell due`` once the time has come, until the server rings)."""
    if at is None:
        return ""
    if at <= now:
        return "bell due"
    return f"bell again in {span(at - now)}"


def age(ref: AlertRef, now: datetime) -> str:
    """How long the alert has been open (``12m``)."""
    return span(now - ref.alert.at)


def took(ref: AlertRef) -> str:
    """How long it took to acknowledge (``4m``), or ``""`` while open."""
    done = ref.alert.acknowledged_at
    return span(done - ref.alert.at) if done is not None else ""
