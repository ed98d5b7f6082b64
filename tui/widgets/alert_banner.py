"""The alert banner: the oldest open alert, how many more, when the bell rings again, the keys.

One line at any width: the description is what gets cut (with an ellipsis), never the count or
the keys, so at 80 columns a flood of alerts still reads ``+56 more``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from offline.alerts import AlertRef
from tui.text import fit, literal
from tui.widgets.alert_text import bell_text, headline

MIN_DESCRIPTION = 12
"""Below this many cells for the description, the keys hint is dropped instead."""


class AlertBanner(Widget):
    """Shown while any alert is open (``show``); hidden otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oldest: AlertRef | None = None
        self.count = 0
        self.bell_at: datetime | None = None
        self.now: datetime | None = None
        self.keys = ""

    def show(
        self, refs: list[AlertRef], now: datetime, bell_at: datetime | None, keys: str
    ) -> None:
        """``refs``: the open alerts, oldest first; ``keys``: ``! ack · b alerts``."""
        self.oldest = refs[0] if refs else None
        self.count = len(refs)
        self.now, self.bell_at, self.keys = now, bell_at, keys
        self.display = bool(refs)
        self.refresh()

    def render(self) -> Text:
        ref = self.oldest
        if ref is None or self.now is None:
            return Text("")
        head = Text("⚠ ", end="")
        head.append_text(headline(ref))
        head.append(": ")
        tail_parts = []
        if self.count > 1:
            tail_parts.append(f"+{self.count - 1} more")
        if ring := bell_text(self.bell_at, self.now):
            tail_parts.append(ring)
        width = self.content_size.width or 80
        tail = "".join(f" · {p}" for p in [*tail_parts, self.keys] if p)
        room = width - cell_len(head.plain) - cell_len(tail)
        if room < MIN_DESCRIPTION and self.keys:  # the keys go first, the count stays
            tail = "".join(f" · {p}" for p in tail_parts)
            room = width - cell_len(head.plain) - cell_len(tail)
        description = literal(ref.request.description)
        if cell_len(description.plain) > max(room, 1):
            description = fit(description, max(room, 1))
        line = head + description + Text(tail)
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line
