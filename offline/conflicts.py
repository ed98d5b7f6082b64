"""What to do when the server refuses an edit with ``conflict``: one strategy per field group.

The server already merges edits whose fields nobody touched since (``rules.conflicting_fields``);
a ``conflict`` means someone changed the same field first. Strategies, per field group:

- ``server-wins``: drop my change to the clashing fields and tell the person;
- ``client-wins``: re-issue my change on the server's new version;
- ``merge``: re-issue the fields that did not clash, then ``server-wins`` for the rest;
- ``manual``: park the edit (mine and theirs per field) until a person picks.

Defaults (issue 4): status and assignee are ``manual``; descriptive fields ``merge``; notes never
conflict. Nothing here does I/O: the engine turns a ``Plan`` into outbox rows and events.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from protocol import Request
from protocol.rules import EDITABLE_FIELDS

Strategy = Literal["server-wins", "client-wins", "merge", "manual"]
STRATEGIES: frozenset[str] = frozenset({"server-wins", "client-wins", "merge", "manual"})

FIELD_GROUPS: dict[str, frozenset[str]] = {
    "status": frozenset({"status"}),
    "assignee": frozenset({"assignee"}),
    "descriptive": EDITABLE_FIELDS,
}
DEFAULT_STRATEGIES: dict[str, Strategy] = {
    "status": "manual",
    "assignee": "manual",
    "descriptive": "merge",
}


def strategies_with(overrides: Mapping[str, str] | None) -> dict[str, Strategy]:
    """The defaults with ``overrides`` applied; ValueError names a bad group or strategy."""
    result: dict[str, Strategy] = dict(DEFAULT_STRATEGIES)
    for group, strategy in (overrides or {}).items():
        if group not in FIELD_GROUPS:
            raise ValueError(f"unknown field group {group!r} (one of {', '.join(FIELD_GROUPS)})")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown conflict strategy {strategy!r}")
        result[group] = strategy  # type: ignore[assignment]  # checked in STRATEGIES above
    return result


def group_of(name: str) -> str | None:
    """The field group a mutation writes (None: it cannot conflict)."""
    return {"set_status": "status", "assign": "assignee", "update_request": "descriptive"}.get(name)


@dataclass(frozen=True)
class Conflict:
    """A parked edit: my values and the server's, per field, waiting for a person."""

    id: str
    request_id: str
    name: str
    """The mutation that clashed (``set_status``, ``assign``, ``update_request``)."""
    fields: tuple[str, ...]
    mine: dict[str, Any]
    theirs: dict[str, Any]
    message: str
    created_at: datetime
    base_version: int | None = None
    theirs_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "name": self.name,
            "fields": list(self.fields),
            "mine": self.mine,
            "theirs": self.theirs,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
            "base_version": self.base_version,
            "theirs_version": self.theirs_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conflict:
        return cls(
            id=data["id"],
            request_id=data["request_id"],
            name=data["name"],
            fields=tuple(data["fields"]),
            mine=dict(data["mine"]),
            theirs=dict(data["theirs"]),
            message=data["message"],
            created_at=datetime.fromisoformat(data["created_at"]),
            base_version=data.get("base_version"),
            theirs_version=data.get("theirs_version"),
        )


@dataclass
class Plan:
    """What to do with one conflicting mutation."""

    reissue: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(name, args) to queue again on the current version."""
    park: Conflict | None = None
    dropped: tuple[str, ...] = ()
    """Fields where the server's value was kept (the person is told)."""


def my_values(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The field values a mutation writes."""
    if name == "set_status":
        return {"status": args.get("status")}
    if name == "assign":
        return {"assignee": args.get("assignee")}
    if name == "update_request":
        changes = args.get("changes")
        return dict(changes) if isinstance(changes, dict) else {}
    return {}


def mutation_for(
    name: str, request_id: str, values: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The mutation that writes ``values`` (the inverse of ``my_values``)."""
    if name == "set_status":
        return "set_status", {"id": request_id, "status": values["status"]}
    if name == "assign":
        return "assign", {"id": request_id, "assignee": values.get("assignee")}
    return "update_request", {"id": request_id, "changes": dict(values)}


def plan(
    name: str,
    args: Mapping[str, Any],
    base_version: int | None,
    current: Request | None,
    clashing: list[str],
    message: str,
    strategies: Mapping[str, Strategy],
    now: datetime,
) -> Plan:
    """Decide what becomes of a mutation the server refused with ``conflict``."""
    group = group_of(name)
    request_id = args.get("id")
    if group is None or current is None or not isinstance(request_id, str):
        return Plan(dropped=tuple(clashing))
    mine = my_values(name, args)
    clash = [f for f in clashing if f in mine] or sorted(mine)
    strategy = strategies.get(group, "server-wins")
    if strategy == "client-wins":
        return Plan(reissue=[mutation_for(name, request_id, mine)])
    if strategy == "merge":
        rest = {k: v for k, v in mine.items() if k not in clash}
        reissue = [mutation_for(name, request_id, rest)] if rest else []
        return Plan(reissue=reissue, dropped=tuple(clash))
    if strategy == "manual":
        theirs = current.model_dump(mode="json", include=set(mine))
        return Plan(
            park=Conflict(
                id=str(uuid.uuid4()),
                request_id=request_id,
                name=name,
                fields=tuple(clash),
                mine=mine,
                theirs=theirs,
                message=message,
                created_at=now,
                base_version=base_version,
                theirs_version=current.version,
            )
        )
    return Plan(dropped=tuple(clash))
