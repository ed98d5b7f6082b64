"""The status bar: connection state and unsynced edits, always in words.

Colour helps but is never the only signal: the bar always says ``online``, ``connecting`` or
``offline`` and ``N pending``, so a screenshot, a screen reader or a colour-blind clerk reads
the same thing.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from offline.events import EngineStatus
from protocol.models import utcnow
from tui.text import literal
from tui.widgets.cells import span


class StatusBar(Static):
    """``● online · 0 pending · ann (staff)`` plus conflicts, alerts and catch-up progress."""

    COMPONENT_CLASSES = {
        "status-bar--online",
        "status-bar--connecting",
        "status-bar--offline",
        "status-bar--pending",
        "status-bar--alert",
        "status-bar--dim",
    }

    def __init__(self, user: str = "", role: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user = user
        self.role = role
        self.status = EngineStatus()
        self.alerts = 0
        self.marked = 0

    def on_mount(self) -> None:
        self._redraw()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """The age of the oldest pending edit keeps counting between engine events."""
        if self.status.pending:
            self._redraw()

    def show(self, status: EngineStatus) -> None:
        self.status = status
        self._redraw()

    def show_alerts(self, count: int) -> None:
        self.alerts = count
        self._redraw()

    def show_marked(self, count: int) -> None:
        self.marked = count
        self._redraw()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status-bar--{name}", partial=True)

    def _redraw(self) -> None:
        """State and pending count first, so a narrow terminal never cuts them off; the
        offline reason, which can be long, comes last and is cut with an ellipsis."""
        status = self.status
        state = status.connection
        dim = self._style("dim")
        text = Text(end="", no_wrap=True, overflow="ellipsis")
        text.append(f"● {state}", self._style(state))
        if status.catching_up:
            text.append(f" (catching up: {status.catchup_done:,} rows)", dim)
        text.append(" · ")
        text.append(f"{status.pending} pending", self._style("pending") if status.pending else "")
        if status.pending and status.oldest_pending_at is not None:
            text.append(f" (oldest {span(utcnow() - status.oldest_pending_at)})", dim)
        if status.conflicts:
            text.append(" · ")
            text.append(f"{status.conflicts} conflicts", self._style("alert"))
        if self.alerts:
            text.append(" · ")
            text.append(f"⚠ {self.alerts} alerts", self._style("alert"))
        if self.marked:
            text.append(f" · {self.marked} marked")
        if status.rtt_ms is not None and state == "online":
            text.append(f" · {status.rtt_ms:.0f} ms", dim)
        if self.user:
            text.append(" · ")
            text.append_text(literal(self.user))
            text.append(f" ({self.role})", dim)
        if state != "online" and not status.catching_up and status.reason:
            text.append(" · ", dim)
            text.append_text(literal(status.reason, style=dim))
        self.update(text, layout=False)  # one line, always: no layout pass
