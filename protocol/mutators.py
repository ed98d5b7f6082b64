"""Mutators: pure functions that apply one mutation to a request.

``apply_mutation(name, args, current, actor, now)`` returns the new request or a ``Rejection``.
The client calls it to predict (optimistic view), the server calls it to decide; neither has any
rule of its own. Nothing here does I/O or reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from protocol import alerts, text
from protocol.models import PRIORITY_RANK, Category, Note, Priority, Request, Role, Status
from protocol.rules import (
    EDITABLE_FIELDS,
    Actor,
    Code,
    Rejection,
    check_transition,
    conflicting_fields,
    is_reopen,
    touched_fields,
)
from protocol.sla import DEFAULT_SLA, SlaTable
from protocol.staff import StaffDirectory

MUTATIONS: tuple[str, ...] = (
    "create_request",
    "update_request",
    "set_status",
    "assign",
    "add_note",
    "bulk_set_status",
    "acknowledge_alert",
)
SYSTEM_MUTATIONS: tuple[str, ...] = ("raise_sla_alert", "ring_alerts")
"""Mutations only the server makes (its SLA job): a client sending one is refused."""
NUMBER_ARGS: frozenset[str] = frozenset({"index"})
"""Args that hold a number, not text."""
FLAG_ARGS: frozenset[str] = frozenset({"escalate"})
"""Args that hold a boolean, not text."""
BULK_MAX = 200
"""Most ids one ``bulk_set_status`` may carry; with ``BULK_MAX_BYTES`` keeps its ``ack`` (which
carries every changed row) under the server's 1 MiB frame cap."""
BULK_MAX_BYTES = 768 * 1024
"""Most bytes of JSON the rows changed by one bulk change may add up to."""
ROW_MAX_BYTES = 256 * 1024
"""Most bytes of JSON one request may take: its notes are append-only, so they are what grows."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _OneRequestArgs(_Args):
    """The args of every mutation but ``bulk_set_status``: they name one request."""

    id: str


class CreateArgs(_OneRequestArgs):
    room: str
    category: Category
    description: str
    priority: Priority
    guest_name: str | None = None
    assignee: str | None = None
    due_at: str | None = None
    """A deadline of the clerk's own (a wake-up call at 06:00); without it the SLA table's."""


class UpdateArgs(_OneRequestArgs):
    changes: dict[str, Any]


class SetStatusArgs(_OneRequestArgs):
    status: Status


class AssignArgs(_OneRequestArgs):
    assignee: str | None


class AddNoteArgs(_OneRequestArgs):
    text: str


class BulkSetStatusArgs(_Args):
    ids: list[str]
    status: Status


class AcknowledgeAlertArgs(_OneRequestArgs):
    index: int


class RaiseSlaAlertArgs(_OneRequestArgs):
    """System: the request passed deadline ``due_at``; raise ``sla_breach`` (and escalate)."""

    due_at: str
    escalate: bool


class RingAlertsArgs(_OneRequestArgs):
    """System: ring again every open alert of the request whose bell last rang at or before
    ``rung_before`` (the server's ``now - alert_repeat_seconds``)."""

    rung_before: str


_ARGS: dict[str, type[_Args]] = {
    "create_request": CreateArgs,
    "update_request": UpdateArgs,
    "set_status": SetStatusArgs,
    "assign": AssignArgs,
    "add_note": AddNoteArgs,
    "bulk_set_status": BulkSetStatusArgs,
    "acknowledge_alert": AcknowledgeAlertArgs,
    "raise_sla_alert": RaiseSlaAlertArgs,
    "ring_alerts": RingAlertsArgs,
}


_TYPED_ARGS: frozenset[type[_Args]] = frozenset(
    {AcknowledgeAlertArgs, RaiseSlaAlertArgs, RingAlertsArgs}
)
"""Args models with a number or a flag (``NUMBER_ARGS``, ``FLAG_ARGS``): checked for type first."""


def _invalid(fields: dict[str, str]) -> Rejection:
    summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return Rejection(Code.INVALID, summary or "invalid arguments", fields)


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _check_id(value: str) -> str | None:
    """Ids are canonical lower-case UUIDs, so one request can never have two spellings."""
    if _CANONICAL_UUID.match(value):
        return None
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return "must be a UUID"
    return "must be a lower-case canonical UUID"


def parse_args(name: str, args: Any) -> _Args | Rejection:
    """Validate a mutation's ``args`` into its model, or say precisely what is wrong."""
    model = _ARGS.get(name)
    if model is None:
        return Rejection(Code.UNKNOWN_MUTATION, f"unknown mutation {name!r}")
    if not isinstance(args, dict):
        return _invalid({"args": "must be an object"})
    if model in _TYPED_ARGS and (wrong := _non_text_values(args)):
        return _invalid(wrong)  # lax validation would take "0" for 0 and true for 1
    try:
        # Lax mode only turns enum strings into enums: it turns no number into text (pydantic
        # v2 never does), so what passes here holds text wherever text is expected.
        parsed = model.model_validate(args, strict=False)
    except ValidationError as exc:
        # Numbers and booleans where text belongs get the product's own words first; the scan
        # runs only here and below, never for good input (the server's hot path).
        return _invalid(
            _non_text_values(args)
            or {".".join(str(p) for p in e["loc"]) or "args": _say(e) for e in exc.errors()}
        )
    problems = _check_create(parsed) if type(parsed) is CreateArgs else _check_fields(parsed)
    if problems:
        return _invalid(_non_text_values(args) or problems)
    return parsed


def _say(error: Any) -> str:
    """A pydantic error in the product's words."""
    if error["type"] == "enum":
        return f"must be one of {error['ctx']['expected'].replace(chr(39), '')}"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "is not a field of this mutation"
    if error["type"] == "string_type":
        return "must be text"
    return str(error["msg"])


def _non_text_values(args: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Reasons for numbers and booleans where text is expected: lax pydantic would accept them."""
    problems: dict[str, str] = {}
    for key, value in args.items():
        if isinstance(value, dict) and not prefix:
            problems.update(_non_text_values(value, f"{key}."))
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                problems[f"{prefix}{key}"] = "must be a list of text"
        elif not prefix and key in NUMBER_ARGS:
            if type(value) is not int:
                problems[key] = "must be a whole number"
        elif not prefix and key in FLAG_ARGS:
            if type(value) is not bool:
                problems[key] = "must be true or false"
        elif isinstance(value, bool | int | float) or (isinstance(value, dict) and prefix):
            problems[f"{prefix}{key}"] = "must be text or null"
    return problems


def _check_fields(a: _Args) -> dict[str, str]:
    """Per-field reasons for every mutation's args but a create's (``_check_create``)."""
    problems: dict[str, str] = {}
    if isinstance(a, BulkSetStatusArgs):
        for i, rid in enumerate(a.ids):
            if (why := _check_id(rid)) is not None:
                problems[f"ids.{i}"] = why
    elif isinstance(a, _OneRequestArgs) and (why := _check_id(a.id)) is not None:
        problems["id"] = why
    if isinstance(a, UpdateArgs):
        if not a.changes:
            problems["changes"] = "nothing to change"
        unknown = sorted(set(a.changes) - EDITABLE_FIELDS)
        for key in unknown:
            problems[f"changes.{key}"] = "this field cannot be edited"
        known = {k: v for k, v in a.changes.items() if k in EDITABLE_FIELDS}
        problems.update({f"changes.{k}": v for k, v in _check_descriptive(known).items()})
    elif isinstance(a, AssignArgs):
        if a.assignee is not None and (why := text.check_user_name(a.assignee, label="assignee")):
            problems["assignee"] = why
    elif isinstance(a, AddNoteArgs):
        if why := text.check_block(a.text, label="note", max_len=text.NOTE_MAX):
            problems["text"] = why
    elif isinstance(a, AcknowledgeAlertArgs):
        if a.index < 0:
            problems["index"] = "must not be negative"
    elif isinstance(a, RaiseSlaAlertArgs):
        if _parse_time(a.due_at) is None:
            problems["due_at"] = "must be an ISO 8601 time with zone"
    elif isinstance(a, RingAlertsArgs):
        if _parse_time(a.rung_before) is None:
            problems["rung_before"] = "must be an ISO 8601 time with zone"
    elif isinstance(a, BulkSetStatusArgs):
        if not a.ids:
            problems["ids"] = "at least one id is needed"
        elif len(a.ids) > BULK_MAX:
            problems["ids"] = f"at most {BULK_MAX} ids at once"
        elif len(set(a.ids)) != len(a.ids):
            problems["ids"] = "ids must not repeat"
    return problems


def _check_create(a: CreateArgs) -> dict[str, str]:
    """``_check_descriptive`` of a create's fields plus its id and assignee, unrolled: the
    args model has already made ``category`` and ``priority`` members of their enums and every
    text field a ``str``, so only the text rules are left to run (one call each)."""
    problems: dict[str, str] = {}
    if (why := _check_id(a.id)) is not None:
        problems["id"] = why
    if why := text.check_line(a.room, label="room", max_len=text.ROOM_MAX):
        problems["room"] = why
    if why := text.check_block(a.description, label="description", max_len=text.DESCRIPTION_MAX):
        problems["description"] = why
    if a.guest_name is not None and (
        why := text.check_line(
            a.guest_name, label="guest name", max_len=text.GUEST_NAME_MAX, required=False
        )
    ):
        problems["guest_name"] = why
    if a.assignee is not None and (why := text.check_user_name(a.assignee, label="assignee")):
        problems["assignee"] = why
    if a.due_at is not None and _parse_time(a.due_at) is None:
        problems["due_at"] = "must be an ISO 8601 time with zone"
    return problems


_ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "category": tuple(c.value for c in Category),
    "priority": tuple(p.value for p in Priority),
}


def _check_descriptive(values: Mapping[str, Any]) -> dict[str, str]:
    """Per-field reasons for the descriptive fields present in ``values``."""
    problems: dict[str, str] = {}
    for key, value in values.items():
        why: str | None = None
        if key in _ENUM_VALUES:
            allowed = _ENUM_VALUES[key]
            if value not in allowed:
                why = f"must be one of {', '.join(allowed)}"
        elif key == "room":
            why = _str_or(value, lambda v: text.check_line(v, label="room", max_len=text.ROOM_MAX))
        elif key == "description":
            why = _str_or(
                value,
                lambda v: text.check_block(v, label="description", max_len=text.DESCRIPTION_MAX),
            )
        elif key == "guest_name":
            if value is not None:
                why = _str_or(
                    value,
                    lambda v: text.check_line(
                        v, label="guest name", max_len=text.GUEST_NAME_MAX, required=False
                    ),
                )
        elif key == "due_at":
            why = None if _parse_time(value) is not None else "must be an ISO 8601 time with zone"
        if why:
            problems[key] = why
    return problems


def _str_or(value: Any, check: Callable[[str], str | None]) -> str | None:
    return check(value) if isinstance(value, str) else "must be text"


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def target_ids(name: str, args: Any) -> list[str]:
    """Ids of the requests a mutation touches (empty when its args are malformed)."""
    if not isinstance(args, dict):
        return []
    if name == "bulk_set_status":
        ids = args.get("ids")
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
    rid = args.get("id")
    return [rid] if isinstance(rid, str) else []


_NEVER_CONFLICT = frozenset({"notes", "alerts"})
"""Append-only fields: a change to them never makes another edit a conflict."""


def _bump(current: Request, now: datetime, changes: dict[str, Any]) -> Request:
    """A new version of ``current`` with ``changes``; records which fields moved."""
    version = current.version + 1
    field_versions = dict(current.field_versions)
    for key in changes:
        if key not in _NEVER_CONFLICT:
            field_versions[key] = version
    return current.model_copy(
        update={**changes, "version": version, "updated_at": now, "field_versions": field_versions}
    )


def _status_changes(current: Request, new: Status, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": new}
    if new == Status.ACKNOWLEDGED:
        changes["acknowledged_at"] = now
    elif new == Status.IN_PROGRESS:
        changes["started_at"] = now
    elif new == Status.COMPLETED:
        changes["completed_at"] = now
    elif is_reopen(current.status, new):
        changes.update(acknowledged_at=None, started_at=None, completed_at=None)
    return changes


def apply_mutation(
    name: str,
    args: Any,
    current: Request | None,
    actor: Actor,
    now: datetime,
    *,
    base_version: int | None = None,
    sla: SlaTable = DEFAULT_SLA,
    staff: StaffDirectory | None = None,
) -> Request | Rejection:
    """Apply one single-request mutation to ``current`` (None when it does not exist yet).

    ``base_version`` is the version the edit was made on; when the request moved since, the
    edit still applies if none of its fields changed in between, and is a ``conflict`` otherwise.
    ``staff`` is the directory assignees are checked against (None: not known, not checked).
    An ``acknowledge_alert`` of an alert already acknowledged returns ``current`` itself: it is
    answered, and nothing changes.
    """
    if name == "bulk_set_status":
        return Rejection(Code.INVALID, "bulk_set_status changes several requests: use apply_bulk")
    if name in SYSTEM_MUTATIONS and not actor.system:
        return Rejection(Code.FORBIDDEN, f"{name} is made by the server only")
    parsed = parse_args(name, args)
    if isinstance(parsed, Rejection):
        return parsed
    assert isinstance(parsed, _OneRequestArgs)  # bulk_set_status was turned away above
    if isinstance(parsed, CreateArgs):
        if current is not None:
            return Rejection(Code.EXISTS, f"request {parsed.id} already exists")
        if staff is not None and (why := staff.check_assignee(parsed.assignee)):
            return _invalid({"assignee": why})
        return _create(parsed, actor, now, sla)
    if current is None:
        return Rejection(Code.NOT_FOUND, f"no request {parsed.id}")
    if isinstance(parsed, AcknowledgeAlertArgs):
        return _acknowledge(current, parsed.index, actor, now)
    if isinstance(parsed, RaiseSlaAlertArgs):
        return _raise_sla_alert(current, parsed, now, sla)
    if isinstance(parsed, RingAlertsArgs):
        return _ring(current, parsed, now)
    if base_version is not None:
        clash = conflicting_fields(current, base_version, touched_fields(name, args))
        if clash:
            return Rejection(
                Code.CONFLICT,
                f"changed by someone else since version {base_version}: {', '.join(clash)}",
                {f: "changed since your edit" for f in clash},
            )
    if isinstance(parsed, UpdateArgs):
        return _raise_urgent(current, _update(current, parsed, now, sla), now)
    if isinstance(parsed, SetStatusArgs):
        if rejection := check_transition(current, parsed.status, actor):
            return rejection
        moved = _bump(current, now, _status_changes(current, parsed.status, now))
        return _raise_urgent(current, moved, now)
    if isinstance(parsed, AssignArgs):
        if staff is not None and (why := staff.check_assignee(parsed.assignee)):
            return _invalid({"assignee": why})
        return _bump(current, now, {"assignee": parsed.assignee})
    assert isinstance(parsed, AddNoteArgs)
    note = Note(author=actor.user, at=now, text=parsed.text)
    noted = _bump(current, now, {"notes": (*current.notes, note)})
    if _may_exceed(noted, ROW_MAX_BYTES) and row_bytes(noted) > ROW_MAX_BYTES:
        return _invalid({"text": "this request's notes are full: log a new request to go on"})
    return noted


def _raise_urgent(old: Request, new: Request, now: datetime) -> Request:
    """``new``, with an ``urgent`` alert appended when the change made an open request urgent."""
    after = alerts.urgent_alerts(old, new, now)
    return new if after is new.alerts else new.model_copy(update={"alerts": after})


def _acknowledge(current: Request, index: int, actor: Actor, now: datetime) -> Request | Rejection:
    if rejection := alerts.check_acknowledge(current, index, actor):
        return rejection
    done = alerts.acknowledged(current, index, actor, now)
    if done is None:
        return current  # the first acknowledgement stays on record
    records = list(current.alerts)
    records[index] = done
    return _bump(current, now, {"alerts": tuple(records)})


def _raise_sla_alert(
    current: Request, a: RaiseSlaAlertArgs, now: datetime, sla: SlaTable
) -> Request | Rejection:
    """``sla_breach`` for a deadline that passed (once per deadline, whichever instance asks
    first), and with ``escalate`` the priority raised one step on a fresh deadline."""
    due = _parse_time(a.due_at)
    if not current.is_open or due != current.due_at or now < current.due_at:
        return Rejection(Code.INVALID, "the request is not past this deadline")
    if alerts.breach_raised(current, current.due_at):
        return Rejection(Code.EXISTS, "this breach is already raised")
    records = (*current.alerts, alerts.raised("sla_breach", now, current.due_at))
    changes: dict[str, Any] = {}
    rank = PRIORITY_RANK[current.priority]
    if a.escalate and rank < PRIORITY_RANK[Priority.URGENT]:
        up = next(p for p, r in PRIORITY_RANK.items() if r == rank + 1)
        changes["priority"] = up
        changes["due_at"] = sla.due_at(now, current.category, up)
        records = (*records, alerts.raised("escalated", now, current.due_at))
    changes["alerts"] = records
    return _bump(current, now, changes)


def _ring(current: Request, a: RingAlertsArgs, now: datetime) -> Request | Rejection:
    """Every open alert whose bell last rang at or before ``rung_before`` rings now."""
    before = _parse_time(a.rung_before)
    assert before is not None  # checked by parse_args
    if not current.is_open:
        return Rejection(Code.INVALID, "a closed request's alerts do not ring")
    records = tuple(
        r.model_copy(update={"rung_at": now}) if alerts.due_to_ring(r, before) else r
        for r in current.alerts
    )
    if all(new is old for new, old in zip(records, current.alerts, strict=True)):
        return Rejection(Code.EXISTS, "no alert of this request is due to ring")
    return _bump(current, now, {"alerts": records})


def row_bytes(request: Request) -> int:
    """Bytes of the request's JSON on the wire (how frame sizes are budgeted)."""
    return len(request.model_dump_json().encode("utf-8"))


def _may_exceed(request: Request, limit: int) -> bool:
    """Cheap upper bound first: 6 bytes a character covers even ``\\u001b``-style escapes."""
    text = len(request.description) + sum(len(n.text) + 80 for n in request.notes)
    return 6 * text + 4096 > limit


def _create(a: CreateArgs, actor: Actor, now: datetime, sla: SlaTable) -> Request:
    # Every value was validated above (args model + field checks, which made ``category`` and
    # ``priority`` enum members): build without a second validation pass.
    category, priority = a.category, a.priority
    return Request.trusted(
        id=a.id,
        number=None,
        room=a.room,
        category=category,
        description=a.description,
        guest_name=a.guest_name,
        priority=priority,
        status=Status.PENDING,
        assignee=a.assignee,
        created_by=actor.user,
        created_at=now,
        updated_at=now,
        due_at=_parse_time(a.due_at) if a.due_at else sla.due_at(now, category, priority),
        version=1,
        notes=(),
        acknowledged_at=None,
        started_at=None,
        completed_at=None,
        field_versions={},
        alerts=(alerts.raised("urgent", now),) if priority == Priority.URGENT else (),
    )


def _update(current: Request, a: UpdateArgs, now: datetime, sla: SlaTable) -> Request:
    changes: dict[str, Any] = {}
    for key, value in a.changes.items():
        if key == "category":
            changes[key] = Category(value)
        elif key == "priority":
            changes[key] = Priority(value)
        elif key == "due_at":
            changes[key] = _parse_time(value)
        else:
            changes[key] = value
    if (
        ("priority" in changes or "category" in changes)
        and "due_at" not in changes
        and current.due_at == sla.due_at(current.created_at, current.category, current.priority)
    ):
        # The SLA table set the deadline, so it sets the new one; a deadline someone chose (a
        # wake-up call at 06:00, an escalation's) stays until someone changes it.
        changes["due_at"] = sla.due_at(
            current.created_at,
            changes.get("category", current.category),
            changes.get("priority", current.priority),
        )
    return _bump(current, now, changes)


def apply_bulk(
    args: Any, currents: Mapping[str, Request], actor: Actor, now: datetime
) -> list[Request] | Rejection:
    """Apply ``bulk_set_status``: every id moves, or none does (with the reason per id)."""
    if not actor.at_least(Role.MANAGER):
        return Rejection(Code.FORBIDDEN, "only a manager may change requests in bulk")
    parsed = parse_args("bulk_set_status", args)
    if isinstance(parsed, Rejection):
        return parsed
    assert isinstance(parsed, BulkSetStatusArgs)
    results: list[Request] = []
    reasons: dict[str, str] = {}
    for rid in parsed.ids:
        current = currents.get(rid)
        if current is None:
            reasons[rid] = "no such request"
            continue
        if rejection := check_transition(current, parsed.status, actor):
            reasons[rid] = rejection.message
            continue
        moved = _bump(current, now, _status_changes(current, parsed.status, now))
        results.append(_raise_urgent(current, moved, now))
    if not reasons and sum(row_bytes(r) for r in results) > BULK_MAX_BYTES:
        return Rejection(
            Code.INVALID,
            "these requests are too large to change in one go: select fewer",
            {"ids": f"the changed rows would exceed {BULK_MAX_BYTES // 1024} KiB"},
        )
    if reasons:
        return Rejection(
            Code.INVALID_TRANSITION,
            f"{len(reasons)} of {len(parsed.ids)} requests cannot move to {parsed.status.value}",
            reasons,
        )
    return results
