"""The SLA table: how long a request of a category and priority may stay open.

Both sides compute ``due_at`` from it, so a request created offline shows the same deadline it
will have once the server confirms it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from protocol.models import Category, Priority

DEFAULT_PRIORITY_MINUTES: dict[Priority, int] = {
    Priority.URGENT: 15,
    Priority.HIGH: 30,
    Priority.NORMAL: 60,
    Priority.LOW: 240,
}


class SlaTable(BaseModel):
    """Minutes allowed per priority, with optional per-category overrides."""

    priority_minutes: dict[Priority, int] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_MINUTES)
    )
    """Minutes allowed for a request of each priority."""
    overrides: dict[Category, dict[Priority, int]] = Field(default_factory=dict)
    """Per-category exceptions, e.g. ``{"maintenance": {"urgent": 10}}``."""

    def minutes(self, category: Category, priority: Priority) -> int:
        """Minutes allowed for one category and priority."""
        by_category = self.overrides.get(category)
        if by_category and priority in by_category:
            return by_category[priority]
        return self.priority_minutes.get(priority, DEFAULT_PRIORITY_MINUTES[priority])

    def due_at(self, created_at: datetime, category: Category, priority: Priority) -> datetime:
        """The deadline of a request created at ``created_at``."""
        return created_at + timedelta(minutes=self.minutes(category, priority))


DEFAULT_SLA = SlaTable()
