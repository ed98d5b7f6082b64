"""The rule book behaves the same wherever it is called: these are its promises."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from protocol import Actor, Code, Rejection, Role, Status, apply_bulk, apply_mutation, utcnow
from protocol.wire import FrameError, decode_client_frame

STAFF = Actor("ann", Role.STAFF)
OTHER_STAFF = Actor("bob", Role.STAFF)
MANAGER = Actor("meg", Role.MANAGER)


def create(actor: Actor = STAFF, **overrides):
    args = {
        "id": str(uuid.uuid4()),
        "room": "1204",
        "category": "housekeeping",
        "description": "Two extra towels",
        "priority": "normal",
        **overrides,
    }
    result = apply_mutation("create_request", args, None, actor, utcnow())
    assert not isinstance(result, Rejection), result
    return result


def test_new_request_gets_the_sla_deadline_of_its_priority():
    request = create(priority="urgent")
    assert request.due_at - request.created_at == timedelta(minutes=15)
    assert request.status == Status.PENDING and request.version == 1


def test_pending_cannot_jump_to_completed():
    request = create()
    result = apply_mutation(
        "set_status", {"id": request.id, "status": "completed"}, request, STAFF, utcnow()
    )
    assert isinstance(result, Rejection) and result.code == Code.INVALID_TRANSITION


def test_staff_may_not_cancel_someone_elses_request_but_a_manager_may():
    request = create()
    args = {"id": request.id, "status": "cancelled"}
    refused = apply_mutation("set_status", args, request, OTHER_STAFF, utcnow())
    assert isinstance(refused, Rejection) and refused.code == Code.FORBIDDEN
    assert apply_mutation("set_status", args, request, STAFF, utcnow()).status == Status.CANCELLED
    assert apply_mutation("set_status", args, request, MANAGER, utcnow()).status == Status.CANCELLED


def test_only_a_manager_reopens():
    request = create()
    cancelled = apply_mutation(
        "set_status", {"id": request.id, "status": "cancelled"}, request, STAFF, utcnow()
    )
    reopen = {"id": request.id, "status": "pending"}
    assert apply_mutation("set_status", reopen, cancelled, STAFF, utcnow()).code == Code.FORBIDDEN
    reopened = apply_mutation("set_status", reopen, cancelled, MANAGER, utcnow())
    assert reopened.status == Status.PENDING


def test_edits_to_different_fields_merge_and_the_same_field_conflicts():
    request = create()
    theirs = apply_mutation(
        "assign", {"id": request.id, "assignee": "bob"}, request, OTHER_STAFF, utcnow()
    )
    merged = apply_mutation(
        "update_request",
        {"id": request.id, "changes": {"room": "817"}},
        theirs,
        STAFF,
        utcnow(),
        base_version=1,
    )
    assert merged.room == "817" and merged.assignee == "bob"
    clash = apply_mutation(
        "assign", {"id": request.id, "assignee": "cy"}, theirs, STAFF, utcnow(), base_version=1
    )
    assert (
        isinstance(clash, Rejection) and clash.code == Code.CONFLICT and "assignee" in clash.fields
    )


def test_notes_never_conflict():
    request = create()
    theirs = apply_mutation(
        "assign", {"id": request.id, "assignee": "bob"}, request, OTHER_STAFF, utcnow()
    )
    noted = apply_mutation(
        "add_note",
        {"id": request.id, "text": "guest called"},
        theirs,
        STAFF,
        utcnow(),
        base_version=1,
    )
    assert [n.text for n in noted.notes] == ["guest called"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("room", "", "required"),
        ("room", "12\n04", "control"),
        ("room", "x" * 17, "longer than 16"),
        ("description", "bad\x00", "NUL"),
        ("description", "x" * 2001, "longer than 2000"),
        ("category", "spa", "must be one of"),
        ("priority", 3, "must be text"),
        ("guest_name", True, "must be text"),
        ("room", ["1204"], "must be text"),
        ("id", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "lower-case canonical UUID"),
        ("assignee", "ann smith", "assignee must be"),
    ],
)
def test_bad_fields_are_refused_with_the_reason_per_field(field, value, reason):
    args = {
        "id": str(uuid.uuid4()),
        "room": "1",
        "category": "other",
        "description": "d",
        "priority": "low",
    }
    result = apply_mutation("create_request", {**args, field: value}, None, STAFF, utcnow())
    assert isinstance(result, Rejection) and result.code == Code.INVALID
    assert reason in result.fields[field]


def test_a_created_request_is_the_row_full_validation_would_make():
    """The create path builds its row without a second validation pass: the row must be
    indistinguishable from one pydantic validated, on the wire and in equality."""
    row = create(guest_name="Zoë 山田 🧺", assignee="bob", priority="urgent")
    again = type(row).model_validate(row.model_dump())
    assert row == again
    assert row.model_dump_json() == again.model_dump_json()
    assert row.model_fields_set == again.model_fields_set == set(type(row).model_fields)


def test_a_frame_with_non_ascii_text_decodes_exactly():
    text = "Handtücher für 1204 — 山田様 🧺"
    raw = (
        '{"type":"mutate","client_id":"c","n":1,"name":"add_note",'
        f'"args":{{"id":"x","text":"{text}"}}}}'
    )
    assert decode_client_frame(raw).args["text"] == text


def test_text_with_markup_and_escapes_is_stored_exactly():
    text = "[bold]x[/] \x1b[2J"
    assert create(description=text).description == text


def test_bulk_status_is_all_or_none_with_a_reason_per_id():
    a, b = create(), create()
    started = apply_mutation(
        "set_status", {"id": b.id, "status": "in_progress"}, b, STAFF, utcnow()
    )
    refused = apply_bulk(
        {"ids": [a.id, b.id], "status": "acknowledged"}, {a.id: a, b.id: started}, MANAGER, utcnow()
    )
    assert isinstance(refused, Rejection) and list(refused.fields) == [b.id]
    assert (
        apply_bulk({"ids": [a.id], "status": "acknowledged"}, {a.id: a}, STAFF, utcnow()).code
        == Code.FORBIDDEN
    )


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ('{"a": NaN}', "invalid_json"),
        ('{"a": 1e400}', "invalid_json"),
        ('{"type": "hello", "type": "mutate"}', "invalid_json"),
        ("[" * 10000 + "]" * 10000, "invalid_json"),
        ('"\\ud800"', "invalid_json"),
        ('{"type": "hello", "client_id": "\ud800", "v": 1, "last_seq": 0}', "invalid_json"),
        ("[1]", "invalid_frame"),
        ('{"type": "teleport"}', "unknown_type"),
        (
            '{"type": "mutate", "client_id": "c", "n": 1180591620717411303424, "name": "x", '
            '"args": {}}',
            "invalid_frame",
        ),
    ],
)
def test_hostile_frames_become_error_codes_not_crashes(raw, code):
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw)
    assert caught.value.code == code


def test_a_request_whose_notes_are_full_says_so_instead_of_growing_past_the_frame_cap():
    from protocol.mutators import ROW_MAX_BYTES

    request = create()
    note = {"id": request.id, "text": "n" * 2000}
    for _ in range(ROW_MAX_BYTES // 2000 + 10):
        result = apply_mutation("add_note", note, request, STAFF, utcnow())
        if isinstance(result, Rejection):
            break
        request = result
    assert isinstance(result, Rejection) and result.code == Code.INVALID
    assert "full" in result.fields["text"]
    assert len(request.model_dump_json()) <= ROW_MAX_BYTES


def test_a_bulk_change_too_large_for_one_frame_is_refused_whole():
    from protocol.mutators import BULK_MAX_BYTES

    rows = {}
    for _ in range(40):
        request = create()
        note = {"id": request.id, "text": "\x1b" * 2000}
        for _ in range(12):
            request = apply_mutation("add_note", note, request, STAFF, utcnow())
        rows[request.id] = request
    assert sum(len(r.model_dump_json()) for r in rows.values()) > BULK_MAX_BYTES
    refused = apply_bulk({"ids": list(rows), "status": "acknowledged"}, rows, MANAGER, utcnow())
    assert isinstance(refused, Rejection) and refused.code == Code.INVALID


def test_a_deadline_of_the_clerks_own_survives_a_priority_edit_and_the_sla_one_moves():
    wake_up = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    own = create(category="front_desk", due_at=wake_up.isoformat())
    raised = apply_mutation(
        "update_request", {"id": own.id, "changes": {"priority": "high"}}, own, STAFF, utcnow()
    )
    assert not isinstance(raised, Rejection) and raised.due_at == wake_up
    table = create(category="front_desk")
    moved = apply_mutation(
        "update_request",
        {"id": table.id, "changes": {"priority": "urgent"}},
        table,
        STAFF,
        utcnow(),
    )
    assert not isinstance(moved, Rejection)
    assert moved.due_at - moved.created_at == timedelta(minutes=15)
