"""Protocol v1 frames: every WebSocket text frame is one JSON object with a ``type``.

Client frames are a discriminated union on ``type`` (``ClientFrame``); server frames likewise
(``ServerFrame``). docs/PROTOCOL.md documents each one; fields are added, never renamed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from protocol.models import AlertKind, Request, Role
from protocol.sla import SlaTable
from protocol.staff import StaffEntry

PROTOCOL_VERSION = 1
MAX_CLIENT_FRAME = 64 * 1024
"""A client frame over this many bytes closes the connection with 1009."""
MAX_SERVER_FRAME = 1024 * 1024
"""The server keeps each of its frames under this size (catch-up pages are sized for it)."""
MAX_INT = 2**63 - 1
"""Counters (``n``, ``seq``) fit a signed 64-bit integer, as SQLite stores them."""

Counter = Annotated[int, Field(ge=0, le=MAX_INT, strict=True)]
PositiveCounter = Annotated[int, Field(ge=1, le=MAX_INT, strict=True)]
CHANNEL_PATTERN = r"^(all|urgent|room:.{1,16}|assignee:.{1,64})$"


class Frame(BaseModel):
    """Base of every frame: unknown extra fields are ignored so newer peers stay compatible."""

    model_config = ConfigDict(extra="ignore")


# Client → server ------------------------------------------------------------------------------


class Hello(Frame):
    """First frame of a connection: who this installation is and what it already has."""

    type: Literal["hello"] = "hello"
    v: Literal[1] = 1
    client_id: str
    last_seq: Counter = 0
    window_days: float | None = Field(default=None, ge=0, le=36600)
    """Optional: a ``snapshot`` carries requests closed within this many days (else the
    server's ``snapshot_window_days``)."""


class Mutate(Frame):
    """One mutation; ``n`` is the client's strictly increasing counter."""

    type: Literal["mutate"] = "mutate"
    client_id: str
    n: PositiveCounter
    name: str
    args: dict[str, Any]
    base_version: PositiveCounter | None = None


class Subscribe(Frame):
    """Which live changes and alerts this connection wants (default ``all``)."""

    type: Literal["subscribe"] = "subscribe"
    channels: list[Annotated[str, Field(pattern=CHANNEL_PATTERN)]] = Field(
        default_factory=lambda: ["all"], max_length=32
    )


class PresenceUpdate(Frame):
    """What this user is looking at; both fields are required."""

    type: Literal["presence"] = "presence"
    viewing: str | None
    editing: bool
    outbox_age: Annotated[float, Field(ge=0, le=10 * 365 * 86400)] | None = None
    """Added field: seconds the oldest mutation queued on this terminal has waited (null: none
    queued); the server judges the largest one reported (``health``)."""


ClientFrame = Annotated[Hello | Mutate | Subscribe | PresenceUpdate, Field(discriminator="type")]
CLIENT_FRAME = TypeAdapter(ClientFrame)
CLIENT_TYPES = frozenset({"hello", "mutate", "subscribe", "presence"})


# Server → client ------------------------------------------------------------------------------


class UserInfo(Frame):
    name: str
    role: Role


class Welcome(Frame):
    """Answer to ``hello``; catch-up pages follow, then ``synced``."""

    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    server_id: str
    user: UserInfo
    seq: int
    last_mutation: int
    server_time: str | None = None
    """Added field: the server's clock (ISO 8601), so clients can correct SLA countdowns."""
    instance: str | None = None
    """Added field: which instance of the service answered (``server_id`` names the service)."""
    staff: list[StaffEntry] | None = None
    """The staff directory (assignees are checked against its active names)."""
    sla: SlaTable | None = None
    """The SLA table the server applies (offline predictions use it)."""
    alert_repeat_seconds: float | None = None
    """Added field: how long an alert stays unacknowledged before its bell rings again."""


class ChangeEntry(Frame):
    seq: int
    request: Request


class Changes(Frame):
    """A catch-up page of change-log entries, oldest first."""

    type: Literal["changes"] = "changes"
    changes: list[ChangeEntry]
    more: bool


class Snapshot(Frame):
    """A catch-up page of whole rows, when ``last_seq`` is older than the kept log."""

    type: Literal["snapshot"] = "snapshot"
    requests: list[Request]
    seq: int
    more: bool


class Synced(Frame):
    """Catch-up is over; live ``change`` frames follow."""

    type: Literal["synced"] = "synced"
    seq: int


class ChangeBy(Frame):
    user: str
    client_id: str | None = None
    n: int | None = None


class Change(Frame):
    """A live change: the whole row after it, and who made it."""

    type: Literal["change"] = "change"
    seq: int
    request: Request
    by: ChangeBy


class Ack(Frame):
    """A mutation was committed. Bulk changes carry ``requests`` and the last ``seq``."""

    type: Literal["ack"] = "ack"
    n: int
    seq: int
    request: Request | None = None
    requests: list[Request] | None = None


class Reject(Frame):
    """A mutation was refused; ``current`` is the row as the server has it (when it exists)."""

    type: Literal["reject"] = "reject"
    n: int
    code: str
    message: str
    current: Request | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    """Added field: reasons per field (``invalid``, ``conflict``) or per id (bulk)."""


class Subscribed(Frame):
    type: Literal["subscribed"] = "subscribed"
    channels: list[str]


class Alert(Frame):
    """Something a night manager must see: ``urgent``, ``sla_breach`` or ``escalated``."""

    type: Literal["alert"] = "alert"
    kind: AlertKind
    request: Request
    index: int | None = None
    """Which of ``request.alerts`` rings (None only from servers before alerts were records)."""
    repeat: bool = False
    """Added field: True when an unacknowledged alert rings again."""


class Staff(Frame):
    """The staff directory, after any change to the accounts."""

    type: Literal["staff"] = "staff"
    staff: list[StaffEntry]


class PresenceEntry(Frame):
    user: str
    role: Role | None = None
    viewing: str | None = None
    editing: bool = False


class Presence(Frame):
    """Who is online and what each is viewing or editing."""

    type: Literal["presence"] = "presence"
    users: list[PresenceEntry]


class Error(Frame):
    """A frame could not be handled; the connection stays up unless a close follows."""

    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None
    """The ``type`` of the frame this answers, when it could be read."""
    n: int | None = None
    """Added field: the ``n`` of the ``mutate`` this answers, when it had one."""


ServerFrame = Annotated[
    Welcome
    | Changes
    | Snapshot
    | Synced
    | Change
    | Ack
    | Reject
    | Subscribed
    | Alert
    | Staff
    | Presence
    | Error,
    Field(discriminator="type"),
]
SERVER_FRAME = TypeAdapter(ServerFrame)


class ErrorCode:
    """``error`` frame codes (docs/PROTOCOL.md)."""

    INVALID_JSON = "invalid_json"
    INVALID_FRAME = "invalid_frame"
    UNKNOWN_TYPE = "unknown_type"
    BINARY_FRAME = "binary_frame"
    HELLO_REQUIRED = "hello_required"
    WRONG_CLIENT = "wrong_client"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class CloseCode:
    """WebSocket close codes the server uses."""

    GOING_AWAY = 1001
    POLICY = 1008
    TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4401
    TOO_MANY_CONNECTIONS = 4429
