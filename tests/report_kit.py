"""A fixed night shift for the report tests: seeded straight into a store through the real
mutators with a clock of our own (the way the demo data is made), so every figure of its report
can be worked out by hand (tests/test_server_report.py does, line by line)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.seeding import Seeder
from backend.store import Store
from protocol.models import Request, Role
from protocol.rules import Actor, Rejection

T0 = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
"""The night shift starts at 23:00 UTC and ends at 07:00 (``UNTIL``)."""
UNTIL = T0 + timedelta(hours=8)
ANN = Actor("ann", Role.STAFF)
BOB = Actor("bob", Role.STAFF)
MEG = Actor("meg", Role.MANAGER)
SYSTEM = Actor("system", Role.MANAGER, system=True)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Night:
    """Applies mutations at chosen times (minutes from 23:00) into one batch."""

    def __init__(self, store: Store) -> None:
        self.seeder = Seeder(store)
        self.batch = self.seeder.batch
        self.rows = self.seeder.rows
        self.ids: dict[str, str] = {}

    def do(self, minute: float, actor: Actor, name: str, key: str, **args: Any) -> Request:
        rid = self.ids.setdefault(key, str(uuid.uuid4()))
        now = T0 + timedelta(minutes=minute)
        result = self.seeder.apply(name, {"id": rid, **args}, actor, now)
        assert not isinstance(result, Rejection), (key, name, result)
        return result

    def create(self, minute: float, actor: Actor, key: str, category: str, priority: str) -> None:
        self.do(
            minute,
            actor,
            "create_request",
            key,
            room=f"{key}-room",
            category=category,
            description=f"request {key}",
            priority=priority,
        )

    def status(self, minute: float, actor: Actor, key: str, status: str) -> None:
        self.do(minute, actor, "set_status", key, status=status)

    def breach(self, minute: float, key: str, due_minute: float, escalate: bool) -> None:
        """The SLA job's system mutation for the deadline at ``due_minute``."""
        due = iso(T0 + timedelta(minutes=due_minute))
        self.do(minute, SYSTEM, "raise_sla_alert", key, due_at=due, escalate=escalate)


async def seed_night(store: Store) -> dict[str, Request]:
    """The fixed night (SLA: urgent 15 min, high 30, normal 60, low 240). Times are minutes
    from 23:00; the hand-worked figures are in the tests below."""
    n = Night(store)
    # A: came in before the shift, done late (due 23:30, completed 23:40).
    n.create(-30, ANN, "A", "housekeeping", "normal")
    n.do(-29, ANN, "assign", "A", assignee="ann")
    n.status(10, ANN, "A", "acknowledged")
    n.status(20, ANN, "A", "in_progress")
    n.status(40, ANN, "A", "completed")
    # B: on time (due 00:00, completed 23:30).
    n.create(0, ANN, "B", "housekeeping", "normal")
    n.do(5, ANN, "assign", "B", assignee="bob")
    n.status(10, BOB, "B", "acknowledged")
    n.status(15, BOB, "B", "in_progress")
    n.status(30, BOB, "B", "completed")
    # C: urgent leak at 00:00 (due 00:15); bob acknowledges the alert after 5 min, starts at
    # 00:10, the SLA job raises a breach at 00:16, completed at 00:20.
    n.create(60, MEG, "C", "maintenance", "urgent")
    n.do(61, MEG, "assign", "C", assignee="bob")
    n.do(65, BOB, "acknowledge_alert", "C", index=0)
    n.status(70, BOB, "C", "in_progress")
    n.breach(76, "C", due_minute=75, escalate=False)
    n.status(80, BOB, "C", "completed")
    # D: high at 00:40 (due 01:10), nobody takes it; at 01:11 the SLA job raises a breach and
    # escalates it to urgent (due 01:26); meg acknowledges the breach at 01:30. Still open.
    n.create(100, ANN, "D", "maintenance", "high")
    n.breach(131, "D", due_minute=130, escalate=True)
    n.do(150, MEG, "acknowledge_alert", "D", index=0)
    # E: cancelled ten minutes after it came in.
    n.create(120, ANN, "E", "front_desk", "low")
    n.status(130, ANN, "E", "cancelled")
    # I: started without acknowledging at 02:30, completed at 03:10 (due 03:20).
    n.create(200, BOB, "I", "housekeeping", "normal")
    n.do(201, BOB, "assign", "I", assignee="bob")
    n.status(210, BOB, "I", "in_progress")
    n.status(250, BOB, "I", "completed")
    # F: at 06:05, acknowledged at 06:10, still open at 07:00 (due 07:05: not overdue).
    n.create(425, ANN, "F", "concierge", "normal")
    n.do(426, ANN, "assign", "F", assignee="ann")
    n.status(430, ANN, "F", "acknowledged")
    # G: after the shift. H: before it, closed before it.
    n.create(500, ANN, "G", "housekeeping", "low")
    n.create(-300, ANN, "H", "room_service", "normal")
    n.status(-200, ANN, "H", "in_progress")
    n.status(-190, ANN, "H", "completed")
    await store.commit_batch(n.batch)
    return {key: n.rows[rid] for key, rid in n.ids.items()}
