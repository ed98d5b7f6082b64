"""The alert rules of the rule book: raised by the mutators, acknowledged once, rung again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from protocol import (
    Actor,
    Code,
    Priority,
    Rejection,
    Request,
    Role,
    StaffDirectory,
    StaffEntry,
    apply_mutation,
    utcnow,
)
from protocol.alerts import bells, next_ring

STAFF = Actor("ann", Role.STAFF)
MANAGER = Actor("meg", Role.MANAGER)
SYSTEM = Actor("system", Role.MANAGER, system=True)


def apply(name: str, args: dict, current: Request | None, actor: Actor = STAFF, **kw) -> Request:
    result = apply_mutation(name, args, current, actor, kw.pop("now", utcnow()), **kw)
    assert not isinstance(result, Rejection), result
    return result


def create(**fields) -> Request:
    args = {
        "id": str(uuid.uuid4()),
        "room": "817",
        "category": "maintenance",
        "description": "Leak",
        "priority": "normal",
        **fields,
    }
    return apply("create_request", args, None)


def test_urgent_is_raised_by_a_create_an_edit_and_a_reopen_never_twice():
    made = create(priority="urgent")
    assert [a.kind for a in made.alerts] == ["urgent"] and made.alerts[0].is_open
    calm = create()
    assert calm.alerts == ()
    raised = apply("update_request", {"id": calm.id, "changes": {"priority": "urgent"}}, calm)
    assert [a.kind for a in raised.alerts] == ["urgent"]
    edited = apply("update_request", {"id": raised.id, "changes": {"room": "818"}}, raised)
    assert len(edited.alerts) == 1, "already urgent: nothing new"
    done = apply("set_status", {"id": made.id, "status": "cancelled"}, made)
    reopened = apply("set_status", {"id": done.id, "status": "pending"}, done, MANAGER)
    assert [a.kind for a in reopened.alerts] == ["urgent", "urgent"]
    assert [(b.index, b.kind, b.repeat) for b in bells(reopened)] == [(1, "urgent", False)]


def test_acknowledging_is_for_managers_and_the_assignee_and_the_first_stays():
    made = create(priority="urgent", assignee="bob")
    args = {"id": made.id, "index": 0}
    refused = apply_mutation("acknowledge_alert", args, made, STAFF, utcnow())
    assert isinstance(refused, Rejection) and refused.code == Code.FORBIDDEN
    taken = apply("acknowledge_alert", args, made, Actor("bob", Role.STAFF))
    assert taken.alerts[0].acknowledged_by == "bob" and taken.version == made.version + 1
    again = apply("acknowledge_alert", args, taken, MANAGER)
    assert again is taken, "acked, nothing changes"
    missing = apply_mutation(
        "acknowledge_alert", {"id": made.id, "index": 1}, made, MANAGER, utcnow()
    )
    assert isinstance(missing, Rejection) and missing.fields == {"index": "must be between 0 and 0"}
    bad = apply_mutation(
        "acknowledge_alert", {"id": made.id, "index": "0"}, made, MANAGER, utcnow()
    )
    assert isinstance(bad, Rejection) and bad.code == Code.INVALID


def test_an_acknowledgement_never_conflicts_with_an_edit():
    made = create(priority="urgent")
    moved = apply("update_request", {"id": made.id, "changes": {"room": "900"}}, made)
    taken = apply("acknowledge_alert", {"id": made.id, "index": 0}, moved, MANAGER, base_version=1)
    assert taken.alerts[0].acknowledged_by == "meg"
    edit = apply(
        "update_request", {"id": made.id, "changes": {"room": "901"}}, taken, base_version=2
    )
    assert edit.room == "901", "an acknowledgement is not a change of the edited fields"


def test_a_breach_is_raised_once_per_deadline_and_escalates_one_step():
    made = create()
    late = made.due_at + timedelta(seconds=1)
    args = {"id": made.id, "due_at": made.due_at.isoformat(), "escalate": True}
    refused = apply_mutation("raise_sla_alert", args, made, MANAGER, late)
    assert isinstance(refused, Rejection) and refused.code == Code.FORBIDDEN, "server only"
    early = apply_mutation("raise_sla_alert", args, made, SYSTEM, made.due_at - timedelta(1))
    assert isinstance(early, Rejection)
    raised = apply("raise_sla_alert", args, made, SYSTEM, now=late)
    assert [a.kind for a in raised.alerts] == ["sla_breach", "escalated"]
    assert raised.priority == Priority.HIGH and raised.due_at == late + timedelta(minutes=30)
    again = apply_mutation("raise_sla_alert", args, raised, SYSTEM, late)
    assert isinstance(again, Rejection), "the deadline moved: the old one is not raised again"
    same = {"id": made.id, "due_at": made.due_at.isoformat(), "escalate": False}
    quiet = apply("raise_sla_alert", same, made, SYSTEM, now=late)
    twice = apply_mutation("raise_sla_alert", same, quiet, SYSTEM, late)
    assert isinstance(twice, Rejection) and twice.code == Code.EXISTS


def test_a_bell_rings_again_only_after_the_period_and_only_while_open():
    start = utcnow()
    made = create(priority="urgent")
    period = timedelta(seconds=600)
    assert next_ring(made, 600) == made.alerts[0].rung_at + period
    before = {"id": made.id, "rung_before": (start - period).isoformat()}
    early = apply_mutation("ring_alerts", before, made, SYSTEM, start)
    assert isinstance(early, Rejection), "not due yet"
    later = made.created_at + period
    due = {"id": made.id, "rung_before": (later - period).isoformat()}
    rung = apply("ring_alerts", due, made, SYSTEM, now=later)
    assert rung.alerts[0].rung_at == later
    assert [(b.index, b.repeat) for b in bells(rung)] == [(0, True)]
    taken = apply("acknowledge_alert", {"id": made.id, "index": 0}, made, MANAGER)
    assert isinstance(apply_mutation("ring_alerts", due, taken, SYSTEM, later), Rejection)
    assert next_ring(taken, 600) is None


def test_assignees_must_be_active_accounts_of_the_directory():
    directory = StaffDirectory(
        [
            StaffEntry(name="ann", role=Role.STAFF, active=True),
            StaffEntry(name="old", role=Role.STAFF, active=False),
        ]
    )
    made = create()
    for name, why in (
        ("bbo", "no account named bbo in the staff directory"),
        ("old", "old is not an active account"),
    ):
        refused = apply_mutation(
            "assign", {"id": made.id, "assignee": name}, made, STAFF, utcnow(), staff=directory
        )
        assert isinstance(refused, Rejection) and refused.fields == {"assignee": why}
    assert apply("assign", {"id": made.id, "assignee": "ann"}, made, staff=directory).assignee
    assert apply("assign", {"id": made.id, "assignee": None}, made, staff=directory)


def test_a_due_time_on_create_replaces_the_sla_deadline():
    wake_up = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    made = create(category="front_desk", due_at=wake_up.isoformat())
    assert made.due_at == wake_up
    naive = apply_mutation(
        "create_request",
        {
            "id": str(uuid.uuid4()),
            "room": "1",
            "category": "other",
            "description": "x",
            "priority": "low",
            "due_at": "2026-12-06T06:00:00",
        },
        None,
        STAFF,
        utcnow(),
    )
    assert isinstance(naive, Rejection) and "due_at" in naive.fields
