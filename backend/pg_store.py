"""``PostgresStore``: one of several server instances on one PostgreSQL database.

Everything a client relies on lives in the database, so the instances form one service:
accounts and tokens, the change log, each client's exactly-once state and stored outcomes,
and the alerts (records in their request rows, so what the SLA job already raised is there too).

**One gap-free ``seq``.** A PostgreSQL sequence hands numbers out at insert time while
transactions commit in any order, so a reader could see 11 before 10 and skip 10 for ever.
Instead every group commit first locks the single ``counters`` row (``SELECT … FOR UPDATE``)
and numbers its entries from the head it holds; the next writer cannot number anything until
this transaction has committed and released the row. Entries therefore become visible in
``seq`` order, with no holes, on every instance. It serialises commits across instances,
which group commit makes cheap: one lock, one counter update and one ``NOTIFY`` per batch.

**A stale batch is prepared again, not overwritten.** The writer prepares a batch on its
in-memory state; ``counters.commits`` says how many batches the database has taken. When it
differs from the count the batch was prepared on, another instance committed meanwhile: still
holding the lock, the store reads the log and the clients' state after its own, updates the
in-memory state (delivering those changes to this instance's connections) and asks the writer
to prepare the same mutations again. Conflict rules and exactly-once are then decided on the
current rows, and nobody can commit in between.

**Fan-out across instances.** After each commit, ``NOTIFY frontdesk, '<head seq>'`` wakes the
other instances; each reads the log after its own head. The notification is only a wake-up:
the listener LISTENs before it reads, a poll (``follow_seconds``) covers lost notifications,
and a listener that loses its connection reconnects and reads again. A lost notification
costs latency, never a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from backend.store import (
    LOG_DATA,
    LOG_JOIN,
    OPEN_SQL,
    Batch,
    FollowedChange,
    Rebuild,
    RequestFilter,
    Store,
    StoreState,
    StoreUnavailable,
    UserRow,
    guest_key,
    history_entry,
    prefix_bounds,
    redact,
    request_columns,
    stored_changes,
)
from protocol.models import Request
from protocol.report import OPEN_STATUS_VALUES

log = logging.getLogger("frontdesk.pg")

CHANNEL = "frontdesk"
"""The ``LISTEN``/``NOTIFY`` channel; the payload is the new head ``seq``."""
SCHEMA_LOCK = 0x66726F6E
"""Advisory lock key held while creating the schema (instances may start together)."""
FOLLOW_PAGE = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head BIGINT NOT NULL,
    next_number BIGINT NOT NULL,
    commits BIGINT NOT NULL,
    compacted_through BIGINT NOT NULL
);
INSERT INTO counters (id, head, next_number, commits, compacted_through)
    VALUES (1, 0, 1, 0, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT false,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    "user" TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens ("user");
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    number BIGINT UNIQUE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    category TEXT NOT NULL,
    room TEXT NOT NULL,
    assignee TEXT,
    updated_at DOUBLE PRECISION NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    guest TEXT
);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS guest TEXT;
CREATE TABLE IF NOT EXISTS changes (
    seq BIGINT PRIMARY KEY,
    request_id TEXT NOT NULL,
    mutation TEXT NOT NULL,
    by_user TEXT NOT NULL,
    client_id TEXT,
    n BIGINT,
    at DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_request ON changes (request_id, seq);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    "user" TEXT NOT NULL,
    last_n BIGINT NOT NULL,
    commit_no BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS clients_commit ON clients (commit_no);
CREATE TABLE IF NOT EXISTS outcomes (
    client_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    frame TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    seq BIGINT,
    rows INTEGER,
    PRIMARY KEY (client_id, n)
);
ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS seq BIGINT;
ALTER TABLE outcomes ADD COLUMN IF NOT EXISTS rows INTEGER;
CREATE INDEX IF NOT EXISTS outcomes_at ON outcomes (at);
CREATE INDEX IF NOT EXISTS requests_status_updated ON requests (status, updated_at);
"""

INDEXES = f"""
CREATE INDEX IF NOT EXISTS requests_open ON requests (number) WHERE {OPEN_SQL};
CREATE INDEX IF NOT EXISTS requests_updated ON requests (updated_at, number);
CREATE INDEX IF NOT EXISTS requests_room ON requests (room, number);
CREATE INDEX IF NOT EXISTS requests_guest ON requests (guest, number) WHERE guest IS NOT NULL;
"""
"""What start-up (open rows), snapshots (closed within a window), the stats and lookups by
room or guest read, without scanning every request (as in ``sqlite_store``)."""

UPSERT_REQUESTS = """
INSERT INTO requests (id, number, version, status, priority, category, room, assignee,
                      updated_at, due_at, seq, data, guest)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::float8[], $10::float8[],
                     $11::bigint[], $12::text[], $13::text[])
ON CONFLICT (id) DO UPDATE SET
    number = EXCLUDED.number, version = EXCLUDED.version, status = EXCLUDED.status,
    priority = EXCLUDED.priority, category = EXCLUDED.category, room = EXCLUDED.room,
    assignee = EXCLUDED.assignee, updated_at = EXCLUDED.updated_at, due_at = EXCLUDED.due_at,
    seq = EXCLUDED.seq, data = EXCLUDED.data, guest = EXCLUDED.guest
"""
FILL_PREVIOUS = """
UPDATE changes c SET data = r.data FROM requests r
WHERE c.data = '' AND c.request_id = ANY($1::text[]) AND r.id = c.request_id
"""
"""The entries that were these requests' newest get their JSON before the rows move on
(``store.NEWEST_ENTRY``)."""
INSERT_CHANGES = """
INSERT INTO changes (seq, request_id, mutation, by_user, client_id, n, at, data)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::bigint[], $7::float8[], $8::text[])
"""
UPSERT_CLIENTS = """
INSERT INTO clients (client_id, "user", last_n, commit_no)
SELECT c, u, n, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t (c, u, n)
ON CONFLICT (client_id) DO UPDATE SET
    "user" = EXCLUDED."user", last_n = EXCLUDED.last_n, commit_no = EXCLUDED.commit_no
"""
UPSERT_OUTCOMES = """
INSERT INTO outcomes (client_id, n, frame, at, seq, rows)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::bigint[],
                     $6::int[])
ON CONFLICT (client_id, n) DO UPDATE SET
    frame = EXCLUDED.frame, at = EXCLUDED.at, seq = EXCLUDED.seq, rows = EXCLUDED.rows
"""


ONE_STATEMENT = """
WITH up AS (
    UPDATE counters SET head = $1, next_number = $2, commits = commits + 1
    WHERE id = 1 AND commits = $3
    RETURNING commits
), r AS (
    INSERT INTO requests (id, number, version, status, priority, category, room, assignee,
                          updated_at, due_at, seq, data, guest)
    SELECT * FROM unnest($4::text[], $5::bigint[], $6::int[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::text[], $12::float8[], $13::float8[],
                         $14::bigint[], $15::text[], $16::text[])
    WHERE EXISTS (SELECT 1 FROM up)
    ON CONFLICT (id) DO UPDATE SET
        number = EXCLUDED.number, version = EXCLUDED.version, status = EXCLUDED.status,
        priority = EXCLUDED.priority, category = EXCLUDED.category, room = EXCLUDED.room,
        assignee = EXCLUDED.assignee, updated_at = EXCLUDED.updated_at,
        due_at = EXCLUDED.due_at, seq = EXCLUDED.seq, data = EXCLUDED.data,
        guest = EXCLUDED.guest
), prev AS (
    UPDATE changes c SET data = old.data FROM requests old
    WHERE c.data = '' AND c.request_id = ANY($4::text[]) AND old.id = c.request_id
      AND EXISTS (SELECT 1 FROM up)
), ch AS (
    INSERT INTO changes (seq, request_id, mutation, by_user, client_id, n, at, data)
    SELECT * FROM unnest($17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[],
                         $22::bigint[], $23::float8[], $24::text[])
    WHERE EXISTS (SELECT 1 FROM up)
), cl AS (
    INSERT INTO clients (client_id, "user", last_n, commit_no)
    SELECT c, u, n, (SELECT commits FROM up)
    FROM unnest($25::text[], $26::text[], $27::bigint[]) AS t (c, u, n)
    WHERE EXISTS (SELECT 1 FROM up)
    ON CONFLICT (client_id) DO UPDATE SET
        "user" = EXCLUDED."user", last_n = EXCLUDED.last_n, commit_no = EXCLUDED.commit_no
), o AS (
    INSERT INTO outcomes (client_id, n, frame, at, seq, rows)
    SELECT * FROM unnest($28::text[], $29::bigint[], $30::text[], $31::float8[],
                         $32::bigint[], $33::int[])
    WHERE EXISTS (SELECT 1 FROM up)
    ON CONFLICT (client_id, n) DO UPDATE SET
        frame = EXCLUDED.frame, at = EXCLUDED.at, seq = EXCLUDED.seq, rows = EXCLUDED.rows
), notified AS (
    SELECT pg_notify('frontdesk', $1::text) FROM up WHERE $34::boolean
)
SELECT (SELECT commits FROM up), (SELECT count(*) FROM notified)
"""
"""A whole group commit as one statement in its own implicit transaction, when the batch was
prepared on the database's current commit count (``$3``). The counters row is locked by the
``UPDATE`` until the commit, as in the multi-statement form, but for one round trip instead of
seven: ``bench/pg_driver.py`` measured the one-statement form at 1.8 to 2.9 times the rows/s. When
another instance committed meanwhile, the ``UPDATE`` matches no row (PostgreSQL re-checks
``commits = $3`` on the row version it waited for), nothing is written, and the store takes the
careful path: lock, catch up, rebuild, write."""


def unavailable(exc: BaseException) -> bool:
    """True for the errors that mean "the database cannot be reached right now"."""
    # InternalClientError: a pooled connection whose server side was terminated mid-use
    # (pg_terminate_backend, a restart) can report "another operation is in progress"; the
    # pool replaces it on release, so the next attempt gets a fresh one.
    lost = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    if isinstance(exc, lost):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or ""
    # 08: connection exceptions; 57: operator intervention (shutdown, cannot connect now).
    return isinstance(exc, asyncpg.PostgresError) and sqlstate[:2] in ("08", "57")


@contextlib.asynccontextmanager
async def _guard(what: str) -> AsyncIterator[None]:
    """Turn a lost database into ``StoreUnavailable`` (the server's callers know that one)."""
    try:
        yield
    except Exception as exc:
        if unavailable(exc):
            raise StoreUnavailable(f"PostgreSQL unavailable during {what}: {exc}") from exc
        raise


class PostgresStore(Store):
    """The shared database of several instances, plus this instance's in-memory state."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self.description = redact(url)
        self.pool = pool
        self.state = StoreState()
        self.server_id = ""
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._state_lock = asyncio.Lock()
        """Held while the state moves (a commit or a follow): the two never interleave."""
        self._listener: asyncio.Task[None] | None = None
        self._follow_wanted = asyncio.Event()
        self._closing = False
        self._own_head = 0
        """The head seq of the commit under way (its own NOTIFY needs no follow)."""
        self._ping_conn: asyncpg.Connection | None = None
        self._ping_lock = asyncio.Lock()
        self.listening = asyncio.Event()
        """Set while the listener connection is up (tests wait on it)."""

    @classmethod
    async def open(
        cls, url: str, *, load_requests: bool = True, pool_size: int = 4
    ) -> PostgresStore:
        """Connect, create the schema if needed, load the state and start listening.

        Raises ``StoreUnavailable`` with one readable line for a bad URL, a database that is
        down or missing, or credentials it refuses.
        """
        shown = redact(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max(1, pool_size), timeout=10, command_timeout=30
            )
        except (ValueError, asyncpg.ClientConfigurationError) as exc:
            raise StoreUnavailable(f"bad database URL {shown}: {exc}") from exc
        except asyncpg.InvalidCatalogNameError as exc:
            raise StoreUnavailable(f"no such database at {shown}: {exc}") from exc
        except (
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidPasswordError,
        ) as exc:
            raise StoreUnavailable(f"PostgreSQL at {shown} refused the user: {exc}") from exc
        except Exception as exc:
            if unavailable(exc) or isinstance(exc, asyncpg.PostgresError):
                raise StoreUnavailable(f"cannot reach PostgreSQL at {shown}: {exc}") from exc
            raise
        store = cls(url, pool)
        try:
            await store._setup(load_requests)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, Exception) and unavailable(exc):
                raise StoreUnavailable(f"cannot reach PostgreSQL at {shown}: {exc}") from exc
            raise
        if load_requests:  # a server instance: follow the others
            store._listener = asyncio.get_running_loop().create_task(
                store._listen(), name="frontdesk-pg-listener"
            )
        return store

    async def _setup(self, load_requests: bool) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            await conn.execute(SCHEMA)
            await _backfill_guests(conn)
            await conn.execute(INDEXES)
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('server_id', $1) ON CONFLICT DO NOTHING",
                str(uuid.uuid4()),
            )
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot: the rows, clients and counters all describe the same commit.
            self.server_id = await conn.fetchval("SELECT value FROM meta WHERE key='server_id'")
            counters = await conn.fetchrow("SELECT * FROM counters WHERE id = 1")
            state = self.state
            if load_requests:  # the open ones: closed ones are read when something touches them
                for record in await conn.fetch(f"SELECT data FROM requests WHERE {OPEN_SQL}"):
                    state.put_row(Request.model_validate_json(record["data"]))
                clients = await conn.fetch("SELECT client_id, last_n FROM clients")
                state.client_last_n = {r["client_id"]: r["last_n"] for r in clients}
            self._set_counters(counters)

    def _set_counters(self, counters: asyncpg.Record) -> None:
        state = self.state
        state.head_seq = int(counters["head"])
        state.next_number = int(counters["next_number"])
        state.commits = int(counters["commits"])
        state.compacted_through = int(counters["compacted_through"])

    @property
    def closing(self) -> bool:
        """True once ``close()`` began (loops read it after each await)."""
        return self._closing

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._ping_conn is not None:
            self._ping_conn.terminate()
        await self.pool.close()

    async def ping(self) -> bool:
        """``SELECT 1`` on a connection of its own, outside the pool.

        ``/readyz`` is asked every few seconds by the load balancer and its caller gives up
        after 2 s; a wait cancelled inside ``Pool.acquire`` while PostgreSQL restarts can leave
        a pool slot taken for good, and enough of those would stall every commit. Cancelling
        this connection costs nothing but itself.
        """
        async with self._ping_lock, _guard("ping"):
            conn = self._ping_conn
            if conn is None or conn.is_closed():
                self._ping_conn = conn = await asyncpg.connect(self.url, timeout=2)
            try:
                return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
            except BaseException:
                self._ping_conn = None
                conn.terminate()
                raise

    # -- following the other instances ---------------------------------------------------

    async def _listen(self) -> None:
        """Keep one connection LISTENing; each notification (or reconnect) wakes a follow."""
        delay = 0.1
        while not self._closing:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.url, timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(CHANNEL, self._notified)
                self.listening.set()
                delay = 0.1
                # LISTEN first, then read: nothing committed meanwhile can be missed.
                self._follow_wanted.set()
                follower = asyncio.get_running_loop().create_task(self._follow_loop(lost))
                try:
                    while not lost.is_set():
                        # A dead peer can go unnoticed until TCP gives up: ask now and then.
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(lost.wait(), 5.0)
                        if not lost.is_set():
                            await asyncio.wait_for(conn.fetchval("SELECT 1"), 5.0)
                finally:
                    follower.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await follower
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._closing:
                    log.warning("event=listener outcome=lost error=%s retry_s=%.1f", exc, delay)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            if self.closing:
                return
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            head = int(payload)
        except ValueError:
            head = -1
        # This instance's own commit notifies too, before its state has moved: not news.
        if head < 0 or head > max(self.state.head_seq, self._own_head):
            self._follow_wanted.set()

    async def _follow_loop(self, lost: asyncio.Event) -> None:
        while not lost.is_set():
            await self._follow_wanted.wait()
            self._follow_wanted.clear()
            try:
                await self.follow()
            except StoreUnavailable as exc:
                log.warning("event=follow outcome=unavailable error=%s", exc)

    async def follow(self) -> None:
        """Bring the state up to what every instance has committed."""
        async with _guard("follow"), self.pool.acquire() as conn, self._state_lock:
            counters = await conn.fetchrow("SELECT * FROM counters WHERE id = 1")
            if int(counters["commits"]) != self.state.commits:
                await self._catch_up(conn, counters)

    async def _catch_up(self, conn: asyncpg.Connection, counters: asyncpg.Record) -> None:
        """Read the log up to ``counters.head`` and clients' state, then hand the changes on."""
        state = self.state
        head = int(counters["head"])
        followed: list[FollowedChange] = []
        after = state.head_seq
        compacted = int(counters["compacted_through"])
        if after < compacted:
            # The entries we missed are gone: take the rows themselves.
            await self._reload_rows(conn)
            after = head
        while after < head:
            records = await conn.fetch(
                f"SELECT c.seq, c.mutation, c.by_user, c.client_id, c.n, {LOG_DATA} AS data"
                f" FROM changes c LEFT JOIN requests r ON {LOG_JOIN}"
                " WHERE c.seq > $1 AND c.seq <= $2 ORDER BY c.seq LIMIT $3",
                after,
                head,
                FOLLOW_PAGE,
            )
            if not records:
                break
            for r in records:
                row = Request.model_validate_json(r["data"])
                old = state.requests.get(row.id)
                state.put_row(row)
                followed.append(
                    FollowedChange(
                        seq=r["seq"],
                        row=row,
                        old=old,
                        data=r["data"],
                        mutation=r["mutation"],
                        user=r["by_user"],
                        client_id=r["client_id"],
                        n=r["n"],
                    )
                )
            after = records[-1]["seq"]
        for r in await conn.fetch(
            "SELECT client_id, last_n FROM clients WHERE commit_no > $1", state.commits
        ):
            if r["last_n"] > state.client_last_n.get(r["client_id"], 0):
                state.client_last_n[r["client_id"]] = r["last_n"]
        self._set_counters(counters)
        if followed and self.on_followed is not None:
            self.on_followed(followed)

    async def _reload_rows(self, conn: asyncpg.Connection) -> None:
        """The log this instance missed is compacted: read the open rows, and every row it
        holds (one may have been closed, a cached closed one changed), as they are now."""
        held = list(self.state.requests)
        for record in await conn.fetch(
            f"SELECT data FROM requests WHERE {OPEN_SQL} OR id = ANY($1::text[])", held
        ):
            self.state.put_row(Request.model_validate_json(record["data"]))

    async def _hold_needed(self, conn: asyncpg.Connection, ids: list[str]) -> None:
        """Read the rows a rebuilt batch needs and the state lacks, on the locked connection."""
        held = self.state.requests
        missing = [rid for rid in dict.fromkeys(ids) if rid not in held]
        if missing:
            for record in await conn.fetch(
                "SELECT data FROM requests WHERE id = ANY($1::text[])", missing
            ):
                held.put_if_absent(Request.model_validate_json(record["data"]))

    # -- group commit ----------------------------------------------------------------------

    async def commit_batch(self, batch: Batch, rebuild: Rebuild | None = None) -> Batch:
        # The connection first, then the state lock (as in follow(), so neither can wait for
        # the other), and the lock is let go before the pool's reset query runs on release.
        async with _guard("commit"), self.pool.acquire() as conn, self._state_lock:
            self._own_head = batch.head_seq
            try:
                return await self._commit(conn, batch, rebuild)
            finally:
                self._own_head = 0

    async def _commit(
        self, conn: asyncpg.Connection, batch: Batch, rebuild: Rebuild | None
    ) -> Batch:
        if batch.base_commit == self.state.commits or rebuild is None:
            written = await conn.fetchrow(ONE_STATEMENT, *_one_statement_args(batch))
            if written[0] is not None:
                self.state.apply_batch(batch)
                return batch
        # The careful path: stale (another instance committed), under the row lock. Other
        # instances' notifications count again from here (ignoring them up to this batch's
        # planned head could swallow one that lands before this commit returns).
        self._own_head = 0
        async with conn.transaction():
            counters = await conn.fetchrow("SELECT * FROM counters WHERE id = 1 FOR UPDATE")
            commits = int(counters["commits"])
            if commits != batch.base_commit:
                if commits != self.state.commits:
                    await self._catch_up(conn, counters)
                if rebuild is None:
                    raise RuntimeError("a stale batch cannot be rebuilt without rebuild()")
                await self._hold_needed(conn, batch.needs)
                batch = rebuild()
            await self._write(conn, batch, commits + 1)
            await conn.execute(
                "UPDATE counters SET head = $1, next_number = $2, commits = commits + 1"
                " WHERE id = 1",
                batch.head_seq,
                batch.next_number,
            )
            if batch.changes:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(batch.head_seq))
        self.state.apply_batch(batch)
        return batch

    @staticmethod
    async def _write(conn: asyncpg.Connection, batch: Batch, commit_no: int) -> None:
        if batch.rows:
            await conn.execute(FILL_PREVIOUS, list(batch.rows))
            await conn.execute(UPSERT_REQUESTS, *_request_columns(batch))
        if batch.changes:
            await conn.execute(INSERT_CHANGES, *_columns(stored_changes(batch), 8))
        if batch.clients:
            keys = list(batch.clients)
            await conn.execute(
                UPSERT_CLIENTS,
                keys,
                [batch.clients[k][0] for k in keys],
                [batch.clients[k][1] for k in keys],
                commit_no,
            )
        if batch.outcomes:
            await conn.execute(UPSERT_OUTCOMES, *_columns(batch.outcomes, 6))

    async def get_outcome(self, key: str, n: int) -> str | None:
        records = await self._fetch(
            "SELECT frame, seq, rows FROM outcomes WHERE client_id = $1 AND n = $2", key, n
        )
        if not records:
            return None
        r = records[0]
        return await self.outcome_frame(n, str(r["frame"]), r["seq"], r["rows"])

    async def last_mutation(self, key: str) -> int:
        """Read from the database: the client may have been served by another instance."""
        value = await self._fetchval("SELECT last_n FROM clients WHERE client_id = $1", key)
        return max(int(value or 0), self.state.client_last_n.get(key, 0))

    # -- reads -----------------------------------------------------------------------------

    async def read_changes(self, after_seq: int, limit: int) -> list[tuple[int, str]]:
        records = await self._fetch(
            f"SELECT c.seq, {LOG_DATA} AS data FROM changes c LEFT JOIN requests r ON {LOG_JOIN}"
            " WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
            after_seq,
            limit,
        )
        return [(int(r["seq"]), r["data"]) for r in records]

    async def read_rows(self, ids: Sequence[str]) -> list[Request]:
        records = await self._fetch(
            "SELECT data FROM requests WHERE id = ANY($1::text[])", list(ids)
        )
        return [Request.model_validate_json(r["data"]) for r in records]

    async def closed_since(
        self, since: float, after: tuple[float, int], limit: int
    ) -> list[tuple[float, int, str]]:
        records = await self._fetch(
            "SELECT updated_at, number, data FROM requests WHERE updated_at >= $1"
            f" AND (updated_at, number) > ($2, $3) AND NOT {OPEN_SQL}"
            " ORDER BY updated_at, number LIMIT $4",
            since,
            after[0],
            after[1],
            limit,
        )
        return [(float(r["updated_at"]), int(r["number"]), r["data"]) for r in records]

    async def request_counts(self) -> list[tuple[str, str, str, int]]:
        records = await self._fetch(
            "SELECT status, category, priority, count(*) AS n FROM requests"
            " GROUP BY status, category, priority"
        )
        return [(r["status"], r["category"], r["priority"], int(r["n"])) for r in records]

    async def updated_since(self, since: float) -> list[str]:
        records = await self._fetch("SELECT data FROM requests WHERE updated_at >= $1", since)
        return [r["data"] for r in records]

    async def history(self, request_id: str) -> list[dict[str, Any]]:
        records = await self._fetch(
            f"SELECT c.seq, c.mutation, c.by_user, c.client_id, c.n, c.at, {LOG_DATA}"
            f" FROM changes c LEFT JOIN requests r ON {LOG_JOIN}"
            " WHERE c.request_id = $1 ORDER BY c.seq",
            request_id,
        )
        return [history_entry(*r.values()) for r in records]

    async def list_requests(
        self, where: RequestFilter, after_number: int, limit: int
    ) -> list[tuple[int, str]]:
        clauses = ["number > $1"]
        params: list[Any] = [after_number]
        for column in ("status", "priority", "category", "room", "assignee"):
            values = list(getattr(where, column))
            if len(values) == 1:  # "=": the planner walks (room, number) in order, no sort
                params.append(values[0])
                clauses.append(f"{column} = ${len(params)}")
            elif values:
                params.append(values)
                clauses.append(f"{column} = ANY(${len(params)}::text[])")
        if where.updated_since is not None:
            params.append(where.updated_since)
            clauses.append(f"updated_at >= ${len(params)}")
        if where.number:
            params.append(list(where.number))
            clauses.append(f"number = ANY(${len(params)}::bigint[])")
        if where.guest:
            low, high = prefix_bounds(guest_key(where.guest) or "")
            params += [low, high]
            clauses.append(f"guest >= ${len(params) - 1} AND guest < ${len(params)}")
        params.append(limit)
        records = await self._fetch(
            f"SELECT number, data FROM requests WHERE {' AND '.join(clauses)}"
            f" ORDER BY number LIMIT ${len(params)}",
            *params,
        )
        return [(int(r["number"]), r["data"]) for r in records]

    async def all_requests(self) -> list[str]:
        records = await self._fetch("SELECT data FROM requests ORDER BY number")
        return [r["data"] for r in records]

    # -- jobs ------------------------------------------------------------------------------

    async def compact_log(self, older_than: float) -> int | None:
        """Runs under the counters lock: ``compacted_through`` and the delete move together,
        and every instance reads it with the counters."""
        async with _guard("compaction"), self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM counters WHERE id = 1 FOR UPDATE")
            through = await conn.fetchval("SELECT max(seq) FROM changes WHERE at < $1", older_than)
            current = await conn.fetchval("SELECT compacted_through FROM counters WHERE id = 1")
            if through is None or through <= current:
                return None
            self.state.compacted_through = int(through)
            await conn.execute("DELETE FROM changes WHERE seq <= $1", through)
            await conn.execute("UPDATE counters SET compacted_through = $1 WHERE id = 1", through)
            return int(through)

    async def prune_outcomes(self, older_than: float, keep_per_client: int) -> int:
        status = await self._execute(
            "DELETE FROM outcomes o USING clients c WHERE c.client_id = o.client_id"
            " AND o.at < $1 AND o.n <= c.last_n - $2",
            older_than,
            keep_per_client,
        )
        return _count(status)

    # -- accounts --------------------------------------------------------------------------

    async def add_user(self, user: UserRow) -> bool:
        status = await self._execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            user.name,
            user.role,
            user.password_hash,
            user.disabled,
            user.created_at,
        )
        return _count(status) > 0

    async def get_user(self, name: str) -> UserRow | None:
        records = await self._fetch(
            "SELECT name, role, password_hash, disabled, created_at FROM users WHERE name = $1",
            name,
        )
        return _user(records[0]) if records else None

    async def list_users(self, now: float) -> list[tuple[UserRow, int]]:
        records = await self._fetch(
            "SELECT u.name, u.role, u.password_hash, u.disabled, u.created_at,"
            ' (SELECT count(*) FROM tokens t WHERE t."user" = u.name AND NOT t.revoked'
            "  AND t.expires_at > $1) AS tokens FROM users u ORDER BY u.name",
            now,
        )
        return [(_user(r), int(r["tokens"])) for r in records]

    async def set_password(self, name: str, password_hash: str) -> None:
        async with _guard("set_password"), self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE users SET password_hash = $1 WHERE name = $2", password_hash, name
            )
            await conn.execute('UPDATE tokens SET revoked = true WHERE "user" = $1', name)

    async def replace_password_hash(self, name: str, old: str, new: str) -> bool:
        status = await self._execute(
            "UPDATE users SET password_hash = $1 WHERE name = $2 AND password_hash = $3",
            new,
            name,
            old,
        )
        return _count(status) > 0

    async def set_disabled(self, name: str, disabled: bool) -> None:
        async with _guard("set_disabled"), self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE users SET disabled = $1 WHERE name = $2", disabled, name)
            if disabled:
                await conn.execute('UPDATE tokens SET revoked = true WHERE "user" = $1', name)

    async def revoke_tokens(self, name: str) -> int:
        status = await self._execute(
            'UPDATE tokens SET revoked = true WHERE "user" = $1 AND NOT revoked', name
        )
        return _count(status)

    async def add_token(
        self, token_hash: str, user: str, created_at: float, expires: float
    ) -> None:
        await self._execute(
            'INSERT INTO tokens (hash, "user", created_at, expires_at, revoked)'
            " VALUES ($1, $2, $3, $4, false)",
            token_hash,
            user,
            created_at,
            expires,
        )

    async def token_owner(self, token_hash: str, now: float) -> tuple[str, str, float] | None:
        records = await self._fetch(
            'SELECT t."user", u.role, t.expires_at FROM tokens t JOIN users u'
            ' ON u.name = t."user" WHERE t.hash = $1 AND NOT t.revoked AND NOT u.disabled'
            " AND t.expires_at > $2",
            token_hash,
            now,
        )
        if not records:
            return None
        r = records[0]
        return str(r["user"]), str(r["role"]), float(r["expires_at"])

    # -- plain statements ------------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with _guard("a read"), self.pool.acquire() as conn:
            return list(await conn.fetch(sql, *args))

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        async with _guard("a read"), self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> str:
        async with _guard("a write"), self.pool.acquire() as conn:
            return str(await conn.execute(sql, *args))

    # -- reports ---------------------------------------------------------------------------

    async def report_rows(self, since: float) -> list[str]:
        records = await self._fetch(
            "SELECT data FROM requests WHERE status = ANY($1::text[])"
            " UNION ALL SELECT data FROM requests"
            " WHERE status IN ('completed', 'cancelled') AND updated_at >= $2",
            list(OPEN_STATUS_VALUES),
            since,
        )
        return [r["data"] for r in records]


async def _backfill_guests(conn: asyncpg.Connection) -> None:
    """Fill ``requests.guest`` (lookups by guest name) in a database made before it existed:
    once, remembered in ``meta``."""
    done = await conn.fetchval("SELECT value FROM meta WHERE key = 'guest_column'")
    if done:
        return
    records = await conn.fetch(
        "SELECT id, data::json->>'guest_name' AS name FROM requests"
        " WHERE guest IS NULL AND data::json->>'guest_name' IS NOT NULL"
    )
    if records:
        await conn.execute(
            "UPDATE requests SET guest = t.g FROM unnest($1::text[], $2::text[]) AS t (i, g)"
            " WHERE requests.id = t.i",
            [r["id"] for r in records],
            [guest_key(r["name"]) for r in records],
        )
    await conn.execute("INSERT INTO meta (key, value) VALUES ('guest_column', '1')")


def _columns(rows: list[Any], width: int) -> list[list[Any]]:
    """Row tuples as ``width`` column lists (``unnest`` takes one array per column)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _request_columns(batch: Batch) -> list[list[Any]]:
    return _columns(
        [request_columns(row, data, seq) for row, data, seq in batch.rows.values()],
        13,
    )


def _one_statement_args(batch: Batch) -> list[Any]:
    keys = list(batch.clients)
    return [
        batch.head_seq,
        batch.next_number,
        batch.base_commit,
        *_request_columns(batch),
        *_columns(stored_changes(batch), 8),
        keys,
        [batch.clients[k][0] for k in keys],
        [batch.clients[k][1] for k in keys],
        *_columns(batch.outcomes, 6),
        bool(batch.changes),
    ]


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    """A termination callback that sets ``event``."""
    return lambda _conn: event.set()


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


def _user(r: asyncpg.Record) -> UserRow:
    return UserRow(
        r["name"], r["role"], r["password_hash"], bool(r["disabled"]), float(r["created_at"])
    )
