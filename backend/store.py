"""The store interface: what the server needs from its database, whichever database it is.

Two implementations: ``SqliteStore`` (``backend/sqlite_store.py``, the embedded default, one
process) and ``PostgresStore`` (``backend/pg_store.py``, several instances on one database).
Every SQL statement of the server lives in one of them; the rest of the server calls the methods
declared here and reads the in-memory state in ``StoreState``.

The in-memory state (every open request and a few recently touched closed ones, each client's
highest processed mutation, the change-log head) is what the writer applies batches against;
closed requests a batch touches are read first (``Store.hold_rows``), so memory and start-up
grow with open work, not with years of history (``backend/working_set.py``). With one process it is
always the database's state. With several instances it *follows* the shared change log: after
each commit of another instance (a notification, or a poll when notifications are lost) the
store reads the log after its head, updates the state and hands the entries to ``on_followed``.
A batch prepared on a state that another instance has since moved past is detected at commit
time, under the database's lock, and prepared again on the fresh state before it is written.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from backend.deadlines import Deadlines
from backend.working_set import WorkingSet
from protocol import codec
from protocol.models import OPEN_STATUSES, Request

OPEN_SQL = "status IN (" + ",".join(sorted(f"'{s.value}'" for s in OPEN_STATUSES)) + ")"
"""The ``WHERE`` of "open requests", spelled exactly as the partial index ``requests_open`` is, so
both databases use that index (a few thousand entries) instead of scanning every request."""

ESCALATION_CLIENT = "server:escalation"
"""The ``client_id`` (prefix, on PostgreSQL: one per instance) of the server's own escalations."""


class StoreUnavailable(Exception):
    """The database cannot be reached (or refuses us) right now; the caller may try again."""


@dataclass(slots=True)
class Batch:
    """Everything one group commit writes, prepared in memory by the writer."""

    rows: dict[str, tuple[Request, str, int]] = field(default_factory=dict)
    """Request id → (row, its JSON, seq of its last change in this batch)."""
    changes: list[tuple[int, str, str, str, str | None, int | None, float, str]] = field(
        default_factory=list
    )
    """(seq, request_id, mutation, by_user, client_id, n, at, data) per change-log entry."""
    clients: dict[str, tuple[str, int]] = field(default_factory=dict)
    """client key → (user, last_n)."""
    outcomes: list[tuple[str, int, str, float, int | None, int | None]] = field(
        default_factory=list
    )
    """(client key, n, frame, at, seq, rows): the answer a resend of that mutation gets. An
    ``ack`` is stored as ``frame=""`` with its ``seq`` (and, for a bulk change, how many rows
    it changed): the change log holds the rows, so ``Store.outcome_frame`` rebuilds it."""
    needs: list[str] = field(default_factory=list)
    """Ids of the requests the batch's mutations read: a stale batch (PostgreSQL) has them
    held again before it is prepared anew."""
    head_seq: int = 0
    next_number: int = 0
    base_commit: int = 0
    """The number of commits the state this batch was prepared on had seen (stale check)."""


@dataclass(frozen=True, slots=True)
class FollowedChange:
    """A change-log entry committed by another instance, as this instance learns of it."""

    seq: int
    row: Request
    old: Request | None
    """The row as this instance knew it before (None for a create it had not seen)."""
    data: str
    """The row's JSON as committed."""
    mutation: str
    user: str
    client_id: str | None
    n: int | None


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """The filters of ``GET /api/v1/requests`` (each an allowed-values list; empty = any)."""

    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    category: Sequence[str] = ()
    room: Sequence[str] = ()
    assignee: Sequence[str] = ()
    updated_since: float | None = None
    number: Sequence[int] = ()
    guest: str | None = None
    """A guest-name prefix, matched without regard to case (``guest_key``)."""


@dataclass(frozen=True, slots=True)
class UserRow:
    """One account as the store holds it."""

    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: float


class StoreState:
    """The in-memory state the writer, the SLA job and catch-up read. Only a store writes it."""

    def __init__(self) -> None:
        self.requests = WorkingSet()
        """Open requests, and the closed ones recently touched (the rest are in the store)."""
        self.head_seq = 0
        self.next_number = 1
        self.compacted_through = 0
        self.commits = 0
        """Commits seen (own and followed): a batch prepared on an older count is stale."""
        self.client_last_n: dict[str, int] = {}
        self.deadlines = Deadlines()
        """Open requests by SLA deadline (the SLA job reads it)."""

    def put_row(self, row: Request) -> None:
        self.requests.put(row)
        self.deadlines.track(row)

    def apply_batch(self, batch: Batch) -> None:
        """Make a committed batch the in-memory state (no await: atomic for the event loop)."""
        for row, _data, _seq in batch.rows.values():
            self.requests.put(row)
            self.deadlines.track(row)
        for key, (_user, n) in batch.clients.items():
            self.client_last_n[key] = n
        if batch.head_seq > self.head_seq:
            self.head_seq = batch.head_seq
        self.next_number = batch.next_number
        self.commits += 1


Rebuild = Callable[[], Batch]
"""Prepares the same mutations again on the (refreshed) committed state; returns the new batch."""


class Store(abc.ABC):
    """One database behind the server. Read ``state``; change it only through these methods."""

    server_id: str
    """The service's id (the same on every instance of one database)."""
    instance_id: str
    """This process's name among the service's instances."""
    state: StoreState
    description: str
    """Where the data lives, for logs (a path, or a URL without its password)."""

    on_followed: Callable[[list[FollowedChange]], None] | None = None
    """Called with the changes another instance committed, right after the state took them."""

    # -- lifecycle -------------------------------------------------------------------------------

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the database answers now (``/readyz``)."""

    async def maintain(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Periodic housekeeping off the commit path (SQLite: WAL checkpoint)."""

    async def follow(self) -> None:  # noqa: B027 - one instance has nothing to follow
        """Read what other instances committed since the state's head (poll fallback)."""

    # -- group commit ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def commit_batch(self, batch: Batch, rebuild: Rebuild | None = None) -> Batch:
        """Write ``batch`` in one transaction, then make it the in-memory state.

        Returns the batch actually written: ``rebuild()``'s when another instance committed
        since ``batch`` was prepared (the state is refreshed first, under the database's lock).
        Nothing of a batch is visible, in memory or to readers, unless the commit succeeded.
        Raises ``StoreUnavailable`` when the database cannot be reached.
        """

    @abc.abstractmethod
    async def get_outcome(self, key: str, n: int) -> str | None:
        """The stored answer to mutation ``n`` of client ``key``, or None when pruned."""

    async def outcome_frame(
        self, n: int, frame: str, seq: int | None, rows: int | None
    ) -> str | None:
        """A stored outcome as it was sent: rejects are stored whole; an ``ack`` is rebuilt
        from the change-log entries it made (None when they were compacted away: the caller
        answers ``duplicate``, as for a pruned outcome)."""
        if frame or seq is None:
            return frame or None
        count = rows or 1
        entries = await self.read_changes(seq - count, count)
        if [s for s, _ in entries] != list(range(seq - count + 1, seq + 1)):
            return None
        if rows:
            return codec.bulk_ack_text(n, seq, [data for _, data in entries])
        return codec.ack_text(n, seq, entries[0][1])

    @abc.abstractmethod
    async def last_mutation(self, key: str) -> int:
        """The highest mutation ``n`` processed for client ``key`` (``welcome.last_mutation``)."""

    async def hold_rows(self, ids: Sequence[str]) -> None:
        """Bring the rows of ``ids`` the state does not hold into it, from the store (closed
        requests a mutation is about to touch). Ids the store does not know stay absent."""
        missing = [rid for rid in dict.fromkeys(ids) if rid not in self.state.requests]
        if missing:
            for row in await self.read_rows(missing):
                self.state.requests.put_if_absent(row)

    # -- reads -----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def read_rows(self, ids: Sequence[str]) -> list[Request]:
        """The current rows of ``ids`` that exist, from the database (any order)."""

    @abc.abstractmethod
    async def closed_since(
        self, since: float, after: tuple[float, int], limit: int
    ) -> list[tuple[float, int, str]]:
        """(updated_at, number, row JSON) of closed requests updated at or after ``since``,
        ordered by (updated_at, number) after ``after``: a snapshot's closed part, a page at a
        time."""

    @abc.abstractmethod
    async def request_counts(self) -> list[tuple[str, str, str, int]]:
        """(status, category, priority, count) over every request (the stats panel)."""

    @abc.abstractmethod
    async def updated_since(self, since: float) -> list[str]:
        """JSON of every request updated at or after ``since`` (the stats' last 24 hours)."""

    @abc.abstractmethod
    async def read_changes(self, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` committed change-log entries after ``after_seq``: (seq, row JSON)."""

    @abc.abstractmethod
    async def history(self, request_id: str) -> list[dict[str, Any]]:
        """Every kept change-log entry of one request, oldest first (its audit trail)."""

    @abc.abstractmethod
    async def list_requests(
        self, where: RequestFilter, after_number: int, limit: int
    ) -> list[tuple[int, str]]:
        """(number, row JSON) of matching requests with a number above ``after_number``."""

    @abc.abstractmethod
    async def all_requests(self) -> list[str]:
        """Every request's JSON by ticket number (export)."""

    # -- jobs ------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def compact_log(self, older_than: float) -> int | None:
        """Drop change-log entries logged before ``older_than``; the new ``compacted_through``
        (None when nothing was dropped)."""

    @abc.abstractmethod
    async def prune_outcomes(self, older_than: float, keep_per_client: int) -> int:
        """Forget stored outcomes older than ``older_than`` and not among the latest
        ``keep_per_client`` of their client; returns how many were forgotten."""

    # -- accounts ----------------------------------------------------------------------------------

    @abc.abstractmethod
    async def add_user(self, user: UserRow) -> bool:
        """Create an account; False when the name is taken."""

    @abc.abstractmethod
    async def get_user(self, name: str) -> UserRow | None: ...

    @abc.abstractmethod
    async def list_users(self, now: float) -> list[tuple[UserRow, int]]:
        """Every account by name, with its count of active tokens."""

    @abc.abstractmethod
    async def set_password(self, name: str, password_hash: str) -> None:
        """Change a password and revoke the user's tokens, in one transaction."""

    @abc.abstractmethod
    async def replace_password_hash(self, name: str, old: str, new: str) -> bool:
        """Swap a user's hash for a rehash of the same password (tokens stay valid), only if it
        is still ``old``; False when it changed meanwhile."""

    @abc.abstractmethod
    async def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (revoking every token) or enable an account, in one transaction."""

    @abc.abstractmethod
    async def revoke_tokens(self, name: str) -> int:
        """Revoke every active token of a user; returns how many."""

    @abc.abstractmethod
    async def add_token(
        self, token_hash: str, user: str, created_at: float, expires: float
    ) -> None:
        """Remember a newly issued token (only its hash)."""

    @abc.abstractmethod
    async def token_owner(self, token_hash: str, now: float) -> tuple[str, str, float] | None:
        """(user, role, expires_at) of a valid token of an enabled user, else None."""

    # -- reports ---------------------------------------------------------------------------------

    @abc.abstractmethod
    async def report_rows(self, since: float) -> list[str]:
        """The JSON of every request that can figure in a report of a period starting at
        ``since``: those open now, and the closed ones changed at or after ``since`` (a request
        closed, breached or alerting in the period was changed then). Read through the
        ``(status, updated_at)`` index; ``backend/report.py`` decides the rest."""


async def open_store(
    data_dir: Path | None,
    database_url: str | None = None,
    *,
    synchronous: str = "NORMAL",
    background_checkpoint: bool = False,
    load_requests: bool = True,
    pool_size: int = 4,
) -> Store:
    """The store a configuration names: PostgreSQL for a ``database_url``, else SQLite in
    ``data_dir``. Raises ``StoreUnavailable`` with one readable line when it cannot be opened."""
    if database_url:
        from backend.pg_store import PostgresStore

        return await PostgresStore.open(
            database_url, load_requests=load_requests, pool_size=pool_size
        )
    if data_dir is None:
        raise StoreUnavailable("give a data directory or a database URL")
    from backend.sqlite_store import SqliteStore

    return await SqliteStore.open(
        data_dir,
        synchronous=synchronous,
        background_checkpoint=background_checkpoint,
        load_requests=load_requests,
    )


def redact(url: str) -> str:
    """``url`` without its password, for logs and error lines."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def guest_key(name: str | None) -> str | None:
    """A guest name as the ``guest`` column holds it, for lookups by prefix: case-folded,
    spaces squeezed (what somebody types at the desk rarely matches the case on file)."""
    if not name:
        return None
    return " ".join(name.casefold().split()) or None


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """``lo <= column < hi`` for "starts with ``prefix``", an index range on both databases."""
    return prefix, prefix + "\U0010ffff"


def request_columns(row: Request, data: str, seq: int) -> tuple[Any, ...]:
    """The ``requests`` table row for one request (both stores have the same columns)."""
    return (
        row.id,
        row.number,
        row.version,
        row.status.value,
        row.priority.value,
        row.category.value,
        row.room,
        row.assignee,
        row.updated_at.timestamp(),
        row.due_at.timestamp(),
        seq,
        data,
        guest_key(row.guest_name),
    )


NEWEST_ENTRY = ""
"""The ``data`` of a change-log entry that is its request's newest: the row in ``requests``
holds the same JSON, so the entry keeps none of its own until the row changes again (then the
commit that changes it fills the entry in, in the same transaction). Readers take the row's JSON
for it (``LOG_DATA``): within one statement the two always describe the same version."""

LOG_DATA = "CASE WHEN c.data = '' THEN r.data ELSE c.data END"
"""An entry's JSON, in a query over ``changes c LEFT JOIN requests r ON LOG_JOIN``."""
LOG_JOIN = "c.data = '' AND r.id = c.request_id"


def stored_changes(
    batch: Batch,
) -> list[tuple[int, str, str, str, str | None, int | None, float, str]]:
    """The batch's change-log entries as written: each request's newest without its JSON."""
    newest = {rid: seq for rid, (_row, _data, seq) in batch.rows.items()}
    return [
        entry if newest.get(entry[1]) != entry[0] else (*entry[:7], NEWEST_ENTRY)
        for entry in batch.changes
    ]


def history_entry(
    seq: int, mutation: str, user: str, client_id: str | None, n: int | None, at: float, data: str
) -> dict[str, Any]:
    """One audit-trail entry of ``GET /api/v1/requests/<id>/history``, as both stores give it."""
    return {
        "seq": int(seq),
        "mutation": mutation,
        "by": {"user": user, "client_id": client_id, "n": n},
        "at": datetime.fromtimestamp(float(at), UTC).isoformat().replace("+00:00", "Z"),
        "request": json.loads(data),
    }
