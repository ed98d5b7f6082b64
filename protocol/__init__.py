"""The contract both sides import: models, wire frames and the mutators (one rule book)."""

from protocol.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    Category,
    Note,
    Priority,
    Request,
    Role,
    Status,
    utcnow,
)
from protocol.mutators import MUTATIONS, apply_bulk, apply_mutation, parse_args, target_ids
from protocol.rules import TRANSITIONS, Actor, Code, Rejection, check_transition
from protocol.sla import DEFAULT_SLA, SlaTable

__all__ = [
    "DEFAULT_SLA",
    "MUTATIONS",
    "OPEN_STATUSES",
    "PRIORITY_RANK",
    "TRANSITIONS",
    "Actor",
    "Category",
    "Code",
    "Note",
    "Priority",
    "Rejection",
    "Request",
    "Role",
    "SlaTable",
    "Status",
    "apply_bulk",
    "apply_mutation",
    "check_transition",
    "parse_args",
    "target_ids",
    "utcnow",
]
