"""The staff directory the server checks assignees against and sends to every terminal.

Accounts change through this process (``Accounts``), through ``frontdesk user …`` on the same
database, or through another instance; the directory is read again after an in-process change
and by a job every ``staff_check_seconds``, and every connection gets a ``staff`` frame when it
moved. The writer reads ``directory`` on its hot path: a plain attribute, replaced whole.
"""

from __future__ import annotations

import logging
import time

from backend.hub import Hub
from backend.store import Store
from protocol import codec
from protocol.models import Role
from protocol.staff import StaffDirectory, StaffEntry

log = logging.getLogger("frontdesk.staff")


class StaffWatch:
    """The last directory read from the store, and who to tell when it changes."""

    def __init__(self, store: Store, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self.directory = StaffDirectory(())

    async def refresh(self) -> bool:
        """Read the accounts again; True (and a ``staff`` frame to everyone) when they moved."""
        rows = await self.store.list_users(time.time())
        entries = [
            StaffEntry(name=u.name, role=Role(u.role), active=not u.disabled) for u, _ in rows
        ]
        fresh = StaffDirectory(entries)
        if fresh.entries == self.directory.entries:
            return False
        self.directory = fresh
        self.hub.send_all(self.frame())
        log.info("event=staff entries=%d active=%d", len(fresh.entries), len(fresh.active))
        return True

    async def check(self) -> None:
        """The periodic job: read the accounts again (``refresh``)."""
        await self.refresh()

    def wire(self) -> list[dict[str, object]]:
        """The directory as ``welcome.staff`` carries it."""
        return [e.model_dump(mode="json") for e in self.directory.entries]

    def frame(self) -> str:
        """The ``staff`` frame of the current directory."""
        return codec.dumps({"type": "staff", "staff": self.wire()})
