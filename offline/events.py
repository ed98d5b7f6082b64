"""What the engine tells its listeners, and the status it reports.

Listeners are called on the engine's event loop and must not block: a TUI posts a message and
returns. Bursts are coalesced by the engine (a catch-up page is one ``ViewChanged``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from protocol import Request, Role

Connection = Literal["online", "connecting", "offline"]


@dataclass(frozen=True)
class EngineStatus:
    """Everything the status bar and the performance panel show."""

    connection: Connection = "offline"
    pending: int = 0
    """Mutations in the outbox that the server has not answered yet."""
    oldest_pending_at: datetime | None = None
    last_synced_at: datetime | None = None
    """When catch-up last finished (``synced``)."""
    reconnects: int = 0
    """Successful connections after the first one."""
    rtt_ms: float | None = None
    """WebSocket ping round-trip time of the current connection."""
    catching_up: bool = False
    catchup_done: int = 0
    """Rows applied during the current (or last) catch-up."""
    reason: str | None = None
    """Why the engine is offline, in one line (None when online or offline-only by choice)."""
    conflicts: int = 0
    """Parked conflicts waiting for a person."""
    offline_only: bool = False
    """True when the engine has no server to talk to."""
    follower: bool = False
    """True while another process on this data directory syncs the shared replica for us."""
    needs_sign_in: bool = False
    """True when the server refused the token (HTTP 401): only a new token (``set_token``)
    gets back online; the engine does not retry until then."""


@dataclass(frozen=True)
class ViewChanged:
    """Rows of the optimistic view changed (added, edited, rolled back)."""

    ids: frozenset[str]


@dataclass(frozen=True)
class StatusChanged:
    status: EngineStatus


@dataclass(frozen=True)
class MutationRejected:
    """The server refused a mutation: the view shows the server's row again."""

    name: str
    request_id: str | None
    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    n: int | None = None
    """The refused mutation's number in this replica's outbox."""


@dataclass(frozen=True)
class AlertReceived:
    """The bell: an ``alert`` frame (or a follower's copy of one). What is open is
    ``Engine.open_alerts()``, derived from rows; this says when to ring."""

    kind: str
    request: Request
    index: int | None = None
    """Which of ``request.alerts`` rings (None from servers before alerts were records)."""
    repeat: bool = False
    """True when an alert nobody acknowledged rings again."""


@dataclass(frozen=True)
class AlertsChanged:
    """Alerts in the view changed: raised, acknowledged (here or elsewhere), or their rows
    came or went. Read ``Engine.open_alerts()`` for what is open now."""

    raised: tuple[tuple[str, int], ...] = ()
    """(request id, index) of unacknowledged alerts new to this terminal."""
    caught_up: bool = False
    """True when ``raised`` are the alerts a catch-up brought (raised while this terminal was
    away): announced once, when the catch-up ends, not page by page."""


@dataclass(frozen=True)
class ConflictParked:
    """An edit clashed with someone else's and waits for a person (``Engine.conflicts()``)."""

    conflict_id: str
    request_id: str


@dataclass(frozen=True)
class PresenceEntry:
    """One user online: their role, the request they view (or None), whether they edit it."""

    user: str
    role: Role | None
    viewing: str | None
    editing: bool


@dataclass(frozen=True)
class PresenceChanged:
    """The server's list of who is online changed (``Engine.presence()``; empty offline)."""

    users: tuple[PresenceEntry, ...]


EngineEvent = (
    ViewChanged
    | StatusChanged
    | MutationRejected
    | AlertReceived
    | AlertsChanged
    | ConflictParked
    | PresenceChanged
)
