"""The contract both sides import: models, wire frames and the mutators (one rule book)."""

from protocol.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    AlertKind,
    AlertRecord,
    Category,
    Note,
    Priority,
    Request,
    Role,
    Status,
    utcnow,
)
from protocol.mutators import (
    MUTATIONS,
    SYSTEM_MUTATIONS,
    apply_bulk,
    apply_mutation,
    parse_args,
    target_ids,
)
from protocol.rules import TRANSITIONS, Actor, Code, Rejection, check_transition
from protocol.sla import DEFAULT_SLA, SlaTable
from protocol.staff import StaffDirectory, StaffEntry

__all__ = [
    "DEFAULT_SLA",
    "MUTATIONS",
    "OPEN_STATUSES",
    "PRIORITY_RANK",
    "SYSTEM_MUTATIONS",
    "TRANSITIONS",
    "Actor",
    "AlertKind",
    "AlertRecord",
    "Category",
    "Code",
    "Note",
    "Priority",
    "Rejection",
    "Request",
    "Role",
    "SlaTable",
    "StaffDirectory",
    "StaffEntry",
    "Status",
    "apply_bulk",
    "apply_mutation",
    "check_transition",
    "parse_args",
    "target_ids",
    "utcnow",
]
