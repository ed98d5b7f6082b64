"""The domain model both sides share: a guest request and its vocabularies.

A request travels whole on the wire (``change``, ``ack``, catch-up pages), so this model *is* the
wire shape of a request. Fields are only ever added, never renamed or dropped (DESIGN.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from protocol.pydantic_adapter import build_trusted


class Category(StrEnum):
    """What kind of work a request is; drives routing and the SLA table."""

    HOUSEKEEPING = "housekeeping"
    MAINTENANCE = "maintenance"
    ROOM_SERVICE = "room_service"
    CONCIERGE = "concierge"
    FRONT_DESK = "front_desk"
    OTHER = "other"


class Priority(StrEnum):
    """How soon a request must be done; ``urgent`` raises alerts."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_RANK: dict[Priority, int] = {
    Priority.LOW: 0,
    Priority.NORMAL: 1,
    Priority.HIGH: 2,
    Priority.URGENT: 3,
}
"""Ordering of priorities, for sorting and for escalation (raise by one step)."""


class Status(StrEnum):
    """Where a request is in its life; moves only along ``rules.TRANSITIONS``."""

    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.PENDING, Status.ACKNOWLEDGED, Status.IN_PROGRESS}
)
"""Statuses in which a request still needs somebody (and its SLA clock runs)."""


class Role(StrEnum):
    """Who a user is; each role includes the powers of the ones before it."""

    STAFF = "staff"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_RANK: dict[Role, int] = {Role.STAFF: 0, Role.MANAGER: 1, Role.ADMIN: 2}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (every timestamp here is UTC)."""
    return datetime.now(UTC)


class Note(BaseModel):
    """One entry of a request's append-only notes."""

    model_config = ConfigDict(frozen=True)

    author: str
    at: datetime
    text: str


AlertKind = Literal["urgent", "sla_breach", "escalated"]
"""What an alert is about: an open request became urgent, passed its deadline, or was raised
one priority step by the server because it did."""


class AlertRecord(BaseModel):
    """One alert of a request: raised by a mutator, kept in the row, acknowledged by a person.

    An alert is part of its request (DESIGN.md, *Alerts are records*), so catch-up brings it to a
    terminal that was away, and an acknowledgement reaches every terminal like any edit.
    """

    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    due_at: datetime | None = None
    """Added field: the deadline an ``sla_breach`` or ``escalated`` alert is about (a deadline is
    breached once, however many instances notice)."""
    rung_at: datetime | None = None
    """Added field: when the bell last rang for it (raised, or repeated while unacknowledged);
    the next ring is due ``alert_repeat_seconds`` later."""

    @property
    def is_open(self) -> bool:
        """True until somebody acknowledges it."""
        return self.acknowledged_by is None


class Request(BaseModel):
    """A guest request, as the server stores it and every client shows it.

    ``field_versions`` maps a field name to the ``version`` that last changed it; conflict
    detection compares it with a mutation's ``base_version`` (``rules.conflicting_fields``).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    number: int | None = None
    room: str
    category: Category
    description: str
    guest_name: str | None = None
    priority: Priority
    status: Status = Status.PENDING
    assignee: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    version: int = 1
    notes: tuple[Note, ...] = ()
    acknowledged_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    field_versions: dict[str, int] = Field(default_factory=dict)
    alerts: tuple[AlertRecord, ...] = ()
    """Append-only: every alert this request raised, acknowledged or not (``protocol.alerts``)."""

    @property
    def is_open(self) -> bool:
        """True while somebody still has to act on the request."""
        return self.status in OPEN_STATUSES

    def is_overdue(self, now: datetime) -> bool:
        """True when the request is open and its SLA deadline has passed."""
        return self.is_open and now >= self.due_at

    @classmethod
    def trusted(cls, **fields: Any) -> Self:
        """A request from values already validated by the rule book, every field given.

        What ``model_construct`` does, without its per-field alias and default lookups (a
        third of a create's cost on the server's hot path; ``protocol.pydantic_adapter``).
        Only ``mutators`` calls it, with every field set; a test holds it equal to
        ``model_validate`` of the same values.
        """
        return build_trusted(cls, fields)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict this request travels as."""
        return self.model_dump(mode="json")
