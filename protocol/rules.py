"""The rule book: status machine, who may do what, and conflict detection.

Every rule here is called by the client (to predict) and by the server (to decide). A rule that
exists twice will drift, so nothing in ``backend``, ``offline`` or ``tui`` restates these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.models import ROLE_RANK, Request, Role, Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.CANCELLED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset({Status.PENDING}),
    Status.CANCELLED: frozenset({Status.PENDING}),
}
"""Allowed status moves (DESIGN.md): anything else is ``invalid_transition``."""

EDITABLE_FIELDS: frozenset[str] = frozenset(
    {"room", "category", "description", "priority", "guest_name", "due_at"}
)
"""Fields ``update_request`` may change."""


class Code:
    """Rejection and error codes of protocol v1 (documented in docs/PROTOCOL.md)."""

    INVALID = "invalid"
    INVALID_TRANSITION = "invalid_transition"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    EXISTS = "exists"
    DUPLICATE = "duplicate"
    UNKNOWN_MUTATION = "unknown_mutation"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a mutation."""

    user: str
    role: Role
    system: bool = False
    """True only for the server's own mutations (the SLA job): system mutations need it."""

    def at_least(self, role: Role) -> bool:
        """True when this actor holds ``role`` or a higher one."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a mutation was refused; becomes a ``reject`` frame on the wire."""

    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    """Per-field reasons (for ``invalid``) or per-id reasons (for ``bulk_set_status``)."""


def is_reopen(old: Status, new: Status) -> bool:
    """True for completed/cancelled back to pending."""
    return new == Status.PENDING and old in (Status.COMPLETED, Status.CANCELLED)


def check_transition(request: Request, new: Status, actor: Actor) -> Rejection | None:
    """Why ``actor`` may not move ``request`` to ``new``, or None when the move is allowed."""
    old = request.status
    if new == old:
        return Rejection(Code.INVALID_TRANSITION, f"request is already {old.value}")
    if new not in TRANSITIONS[old]:
        return Rejection(
            Code.INVALID_TRANSITION, f"cannot move a request from {old.value} to {new.value}"
        )
    if is_reopen(old, new) and not actor.at_least(Role.MANAGER):
        return Rejection(Code.FORBIDDEN, "only a manager may reopen a request")
    if new == Status.CANCELLED and not (
        actor.at_least(Role.MANAGER) or actor.user == request.created_by
    ):
        return Rejection(Code.FORBIDDEN, "only a manager or the creator may cancel a request")
    return None


def touched_fields(name: str, args: dict[str, Any]) -> frozenset[str]:
    """The request fields a mutation writes, for conflict detection. Notes touch none."""
    if name == "update_request":
        changes = args.get("changes")
        return frozenset(changes) if isinstance(changes, dict) else frozenset()
    if name == "set_status":
        return frozenset({"status"})
    if name == "assign":
        return frozenset({"assignee"})
    return frozenset()


def conflicting_fields(current: Request, base_version: int, fields: frozenset[str]) -> list[str]:
    """Fields of ``fields`` that changed after ``base_version``: a non-empty list is a conflict.

    An edit made on an older version still applies when nobody touched its fields since (merge).
    """
    if base_version >= current.version:
        return []
    return sorted(f for f in fields if current.field_versions.get(f, 0) > base_version)
