"""The staff directory: who requests may be assigned to.

The server sends the directory in ``welcome.staff`` and again in a ``staff`` frame after any
change to the accounts; the client keeps the last one it saw, so an offline terminal catches a
typo in an assignee before the server would.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from protocol.models import Role


class StaffEntry(BaseModel):
    """One account as the directory shows it (no secrets)."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    active: bool


class StaffDirectory:
    """The active account names of the last directory seen, for the assignee rule."""

    __slots__ = ("active", "entries")

    def __init__(self, entries: Iterable[StaffEntry]) -> None:
        self.entries: tuple[StaffEntry, ...] = tuple(sorted(entries, key=lambda e: e.name))
        self.active: frozenset[str] = frozenset(e.name for e in self.entries if e.active)

    def check_assignee(self, name: str | None) -> str | None:
        """Why ``name`` may not be assigned (None: it may; nobody is always allowed)."""
        if name is None or name in self.active:
            return None
        known = any(e.name == name for e in self.entries)
        if known:
            return f"{name} is not an active account"
        return f"no account named {name} in the staff directory"
