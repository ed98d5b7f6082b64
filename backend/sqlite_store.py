"""``SqliteStore``: the embedded default store, one server process on one SQLite file.

Requests, the change log, clients' exactly-once state, users and tokens.

Durability: WAL with ``synchronous=NORMAL`` by default. A commit is in the WAL (in the OS page
cache) when ``COMMIT`` returns, so an acknowledged mutation survives the server process being
killed (SIGKILL, crash); only a power loss or kernel crash may lose the last commits. Set
``synchronous = "FULL"`` in the config to survive those too, at the cost of one fsync per batch.

Two connections: the *writer* (one transaction at a time, guarded by ``write_lock``) and the
*reader* (catch-up pages, listings, token checks). WAL lets the reader see only committed data,
so catch-up never shows a change before it is durable.

The open requests (and a few recently touched closed ones) are also held in memory
(``StoreState.requests``), so applying a batch reads only the closed rows it touches, in one
query before the batch is prepared. Start-up reads the open requests only (partial index
``requests_open``), so it takes as long as the open work, not as long as the history.

Stored outcomes of acknowledged mutations keep only the ``seq`` (and row count of a bulk
change): the ``ack`` is rebuilt from the change log's entries, which hold the same rows.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from backend.aiosqlite_adapter import run_in_db_thread
from backend.store import (
    LOG_DATA,
    LOG_JOIN,
    OPEN_SQL,
    Batch,
    Rebuild,
    RequestFilter,
    Store,
    StoreState,
    StoreUnavailable,
    UserRow,
    guest_key,
    history_entry,
    prefix_bounds,
    request_columns,
    stored_changes,
)
from protocol.models import Request
from protocol.report import OPEN_STATUS_VALUES

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    number INTEGER UNIQUE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    category TEXT NOT NULL,
    room TEXT NOT NULL,
    assignee TEXT,
    updated_at REAL NOT NULL,
    due_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    guest TEXT
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    mutation TEXT NOT NULL,
    by_user TEXT NOT NULL,
    client_id TEXT,
    n INTEGER,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_request ON changes (request_id, seq);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    last_n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    client_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    frame TEXT NOT NULL,
    at REAL NOT NULL,
    seq INTEGER,
    rows INTEGER,
    PRIMARY KEY (client_id, n)
) WITHOUT ROWID;
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
room or guest read, without scanning every request."""

MIGRATIONS = [
    ("requests", "guest", "ALTER TABLE requests ADD COLUMN guest TEXT"),
    ("outcomes", "seq", "ALTER TABLE outcomes ADD COLUMN seq INTEGER"),
    ("outcomes", "rows", "ALTER TABLE outcomes ADD COLUMN rows INTEGER"),
]
"""Columns a database made by an older version lacks: (table, column, how to add it)."""

DB_NAME = "frontdesk.sqlite3"


ROWS_PER_STATEMENT = 512
"""Rows bound into one multi-row ``INSERT`` (12 columns: 6,144 parameters, under the cap of
32,766 since SQLite 3.32). Fewer statements a commit mean fewer GIL hand-offs between the
database thread and the event loop, each of which can wait out the switch interval."""


def _insert_rows(
    conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """``head VALUES (?,…),(?,…)… tail`` for ``rows``, ``ROWS_PER_STATEMENT`` rows a statement.

    ``executemany`` steps once per row, and ``sqlite3`` releases and re-takes the GIL around
    every step: while the event loop thread is busy (preparing the next batch, reading
    frames), each re-take waits for it, which made a commit of 256 creates take ~1,000
    GIL hand-offs, several times the CPU and up to 5 ms of wall time per row. One step per
    statement binds the parameters with the GIL held (C, fast) and releases it once.
    """
    if not rows:
        return
    width = len(rows[0])
    one = "(" + ",".join("?" * width) + ")"
    # SQLite before 3.32 allowed only 999 parameters a statement.
    per = max(
        1, min(ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    )
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        params = [value for row in chunk for value in row]
        conn.execute(f"{head} VALUES {','.join([one] * len(chunk))}{tail}", params)


def _write_batch(conn: sqlite3.Connection, batch: Batch, write_number: bool) -> None:
    """One group commit, on the database thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # The entries that were these requests' newest get their JSON before the rows move on.
        ids = list(batch.rows)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(
                "UPDATE changes SET data = (SELECT r.data FROM requests r"
                " WHERE r.id = changes.request_id)"
                f" WHERE data = '' AND request_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        _insert_rows(
            conn,
            "INSERT OR REPLACE INTO requests (id, number, version, status, priority,"
            " category, room, assignee, updated_at, due_at, seq, data, guest)",
            [request_columns(r, d, s) for r, d, s in batch.rows.values()],
        )
        _insert_rows(
            conn,
            "INSERT INTO changes (seq, request_id, mutation, by_user, client_id, n, at, data)",
            stored_changes(batch),
        )
        _insert_rows(
            conn,
            "INSERT INTO clients (client_id, user, last_n)",
            [(cid, user, n) for cid, (user, n) in batch.clients.items()],
            " ON CONFLICT (client_id) DO UPDATE SET last_n = excluded.last_n, user = excluded.user",
        )
        _insert_rows(
            conn,
            "INSERT OR REPLACE INTO outcomes (client_id, n, frame, at, seq, rows)",
            batch.outcomes,
        )
        if write_number:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_number', ?)",
                (str(batch.next_number),),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


async def _migrate(db: aiosqlite.Connection) -> None:
    """Add the columns an older database lacks (and fill ``requests.guest`` for lookups)."""
    for table, column, statement in MIGRATIONS:
        have = {str(r[1]) for r in await db.execute_fetchall(f"PRAGMA table_info({table})")}
        if column in have:
            continue
        await db.execute(statement)
        if column == "guest":
            rows = await db.execute_fetchall(
                "SELECT id, json_extract(data, '$.guest_name') FROM requests"
                " WHERE json_extract(data, '$.guest_name') IS NOT NULL"
            )
            await db.execute("BEGIN IMMEDIATE")
            await db.executemany(
                "UPDATE requests SET guest = ? WHERE id = ?",
                [(guest_key(name), rid) for rid, name in rows],
            )
            await db.execute("COMMIT")


def make_private(data_dir: Path, db_file: Path) -> None:
    """Create the data directory 0700 and the database 0600 whatever the umask: it holds
    password hashes and every guest's name. SQLite gives its -wal and -shm the same mode."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    os.close(os.open(db_file, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(db_file, 0o600)


class SqliteStore(Store):
    """One server's SQLite database, plus the in-memory state the writer needs."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self.description = str(path)
        self.db = writer
        self.reader = reader
        self.write_lock = asyncio.Lock()
        self._checkpointer: aiosqlite.Connection | None = None
        self.state = StoreState()
        self.server_id = ""
        self.instance_id = ""

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        synchronous: str = "NORMAL",
        background_checkpoint: bool = False,
        load_requests: bool = True,
    ) -> SqliteStore:
        """Open (creating if needed) the database in ``data_dir`` and load the in-memory state.

        With ``background_checkpoint`` the writer never checkpoints the WAL itself (that copy and
        its fsync would sit inside a group commit); ``maintain()`` does it instead, on a
        connection of its own. ``load_requests=False`` skips reading every request into memory
        (account commands need none of them).
        """
        path = Path(data_dir) / DB_NAME
        try:
            await asyncio.to_thread(make_private, Path(data_dir), path)
            writer = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {path}: {exc}") from exc
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await writer.execute(f"PRAGMA synchronous={synchronous}")
            await writer.execute("PRAGMA busy_timeout=5000")
            if background_checkpoint:
                await writer.execute("PRAGMA wal_autocheckpoint=0")
            await writer.executescript(SCHEMA)
            await _migrate(writer)
            await writer.executescript(INDEXES)
            reader = await aiosqlite.connect(path, isolation_level=None)
        except BaseException as exc:
            await writer.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(f"cannot open {path}: {exc}") from exc
            raise
        await reader.execute("PRAGMA busy_timeout=5000")
        await reader.execute("PRAGMA query_only=1")
        store = cls(path, writer, reader)
        try:
            await store._load(load_requests)
        except BaseException:
            await store.close()
            raise
        return store

    async def _load(self, load_requests: bool = True) -> None:
        state = self.state
        meta = {str(k): str(v) for k, v in await self.db.execute_fetchall("SELECT * FROM meta")}
        if "server_id" not in meta:
            meta["server_id"] = str(uuid.uuid4())
            await self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('server_id', ?)", (meta["server_id"],)
            )
        self.server_id = meta["server_id"]
        self.instance_id = self.server_id
        state.next_number = int(meta.get("next_number", "1"))
        state.compacted_through = int(meta.get("compacted_through", "0"))
        if load_requests:  # the open ones: closed requests are read when something touches them
            for (data,) in await self.db.execute_fetchall(
                f"SELECT data FROM requests WHERE {OPEN_SQL}"
            ):
                state.put_row(Request.model_validate_json(data))
        head = await self.db.execute_fetchall(
            "SELECT seq FROM sqlite_sequence WHERE name='changes'"
        )
        state.head_seq = max([int(r[0]) for r in head] + [state.compacted_through])
        clients = await self.db.execute_fetchall("SELECT client_id, last_n FROM clients")
        state.client_last_n = {cid: n for cid, n in clients}

    async def close(self) -> None:
        """Close the connections (a clean WAL checkpoint happens on the last close)."""
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        await self.reader.close()
        await self.db.close()

    async def maintain(self) -> None:
        await self.checkpoint()

    async def checkpoint(self) -> tuple[int, int]:
        """Copy committed WAL pages into the database without blocking the writer (PASSIVE).

        Returns (WAL pages, pages checkpointed). Runs on its own connection and thread, so
        neither group commits nor reads wait for its I/O.
        """
        if self._checkpointer is None:
            self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._checkpointer.execute("PRAGMA busy_timeout=5000")
        rows = list(await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)"))
        _busy, pages, done = rows[0]
        return int(pages), int(done)

    async def ping(self) -> bool:
        """True when the database answers (``/readyz``)."""
        rows = await self.reader.execute_fetchall("SELECT 1")
        return list(rows) == [(1,)]

    async def integrity_check(self) -> str:
        """SQLite's own verdict on the file (``ok`` when sound)."""
        rows = await self._read("PRAGMA integrity_check")
        return str(rows[0][0])

    # -- group commit ----------------------------------------------------------------------

    async def commit_batch(self, batch: Batch, rebuild: Rebuild | None = None) -> Batch:
        """Write one batch in a single transaction, then make it the in-memory state.

        One process owns the file, so a batch is never stale and ``rebuild`` is not needed.
        """
        write_number = batch.next_number != self.state.next_number
        async with self.write_lock:
            # The whole transaction runs as one call on the connection's thread: one hop of
            # the event loop per batch instead of one per statement (each costs ~170 µs).
            await run_in_db_thread(self.db, _write_batch, batch, write_number)
        self.state.apply_batch(batch)
        return batch

    async def get_outcome(self, key: str, n: int) -> str | None:
        rows = await self._read(
            "SELECT frame, seq, rows FROM outcomes WHERE client_id = ? AND n = ?", (key, n)
        )
        if not rows:
            return None
        frame, seq, count = rows[0]
        return await self.outcome_frame(n, frame, seq, count)

    async def last_mutation(self, key: str) -> int:
        return self.state.client_last_n.get(key, 0)

    # -- reads -----------------------------------------------------------------------------

    async def read_changes(self, after_seq: int, limit: int) -> list[tuple[int, str]]:
        rows = await self._read(
            f"SELECT c.seq, {LOG_DATA} FROM changes c LEFT JOIN requests r ON {LOG_JOIN}"
            " WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
            (after_seq, limit),
        )
        return [(int(s), d) for s, d in rows]

    async def read_rows(self, ids: Sequence[str]) -> list[Request]:
        rows: list[Request] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for (data,) in await self._read(
                f"SELECT data FROM requests WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ):
                rows.append(Request.model_validate_json(data))
        return rows

    async def closed_since(
        self, since: float, after: tuple[float, int], limit: int
    ) -> list[tuple[float, int, str]]:
        rows = await self._read(
            "SELECT updated_at, number, data FROM requests WHERE updated_at >= ?"
            f" AND (updated_at, number) > (?, ?) AND NOT {OPEN_SQL}"
            " ORDER BY updated_at, number LIMIT ?",
            (since, *after, limit),
        )
        return [(float(u), int(n), d) for u, n, d in rows]

    async def request_counts(self) -> list[tuple[str, str, str, int]]:
        rows = await self._read(
            "SELECT status, category, priority, count(*) FROM requests"
            " GROUP BY status, category, priority"
        )
        return [(s, c, p, int(k)) for s, c, p, k in rows]

    async def updated_since(self, since: float) -> list[str]:
        rows = await self._read("SELECT data FROM requests WHERE updated_at >= ?", (since,))
        return [d for (d,) in rows]

    async def history(self, request_id: str) -> list[dict[str, Any]]:
        rows = await self._read(
            f"SELECT c.seq, c.mutation, c.by_user, c.client_id, c.n, c.at, {LOG_DATA}"
            f" FROM changes c LEFT JOIN requests r ON {LOG_JOIN}"
            " WHERE c.request_id = ? ORDER BY c.seq",
            (request_id,),
        )
        return [history_entry(*row) for row in rows]

    async def list_requests(
        self, where: RequestFilter, after_number: int, limit: int
    ) -> list[tuple[int, str]]:
        clauses = ["number > ?"]
        params: list[Any] = [after_number]
        for column in ("status", "priority", "category", "room", "assignee"):
            values = getattr(where, column)
            if values:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if where.updated_since is not None:
            clauses.append("updated_at >= ?")
            params.append(where.updated_since)
        if where.number:
            clauses.append(f"number IN ({','.join('?' * len(where.number))})")
            params.extend(where.number)
        if where.guest:
            clauses.append("guest >= ? AND guest < ?")
            params.extend(prefix_bounds(guest_key(where.guest) or ""))
        rows = await self._read(
            f"SELECT number, data FROM requests WHERE {' AND '.join(clauses)}"
            " ORDER BY number LIMIT ?",
            (*params, limit),
        )
        return [(int(n), d) for n, d in rows]

    async def all_requests(self) -> list[str]:
        rows = await self._read("SELECT data FROM requests ORDER BY number")
        return [d for (d,) in rows]

    # -- jobs ------------------------------------------------------------------------------

    async def compact_log(self, older_than: float) -> int | None:
        """``compacted_through`` moves in memory *before* the delete, so a catch-up reading at
        the same time notices and switches to a snapshot instead of skipping entries."""
        rows = await self._read("SELECT max(seq) FROM changes WHERE at < ?", (older_than,))
        through = rows[0][0] if rows and rows[0][0] is not None else None
        if through is None or through <= self.state.compacted_through:
            return None
        self.state.compacted_through = through
        await self._write_many(
            [
                ("DELETE FROM changes WHERE seq <= ?", (through,)),
                (
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted_through', ?)",
                    (str(through),),
                ),
            ]
        )
        return int(through)

    async def prune_outcomes(self, older_than: float, keep_per_client: int) -> int:
        return await self._write(
            "DELETE FROM outcomes WHERE at < ? AND n <= (SELECT c.last_n FROM clients c"
            " WHERE c.client_id = outcomes.client_id) - ?",
            (older_than, keep_per_client),
        )

    # -- accounts --------------------------------------------------------------------------

    async def add_user(self, user: UserRow) -> bool:
        count = await self._write(
            "INSERT OR IGNORE INTO users (name, role, password_hash, disabled, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user.name, user.role, user.password_hash, int(user.disabled), user.created_at),
        )
        return count > 0

    async def get_user(self, name: str) -> UserRow | None:
        rows = await self._read(
            "SELECT name, role, password_hash, disabled, created_at FROM users WHERE name = ?",
            (name,),
        )
        if not rows:
            return None
        n, role, hashed, disabled, created = rows[0]
        return UserRow(n, role, hashed, bool(disabled), float(created))

    async def list_users(self, now: float) -> list[tuple[UserRow, int]]:
        rows = await self._read(
            "SELECT u.name, u.role, u.password_hash, u.disabled, u.created_at,"
            " (SELECT count(*) FROM tokens t WHERE t.user = u.name AND t.revoked = 0"
            "  AND t.expires_at > ?) FROM users u ORDER BY u.name",
            (now,),
        )
        return [
            (UserRow(n, role, hashed, bool(disabled), float(created)), int(tokens))
            for n, role, hashed, disabled, created, tokens in rows
        ]

    async def set_password(self, name: str, password_hash: str) -> None:
        await self._write_many(
            [
                ("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)),
                ("UPDATE tokens SET revoked = 1 WHERE user = ?", (name,)),
            ]
        )

    async def replace_password_hash(self, name: str, old: str, new: str) -> bool:
        count = await self._write(
            "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
            (new, name, old),
        )
        return count > 0

    async def set_disabled(self, name: str, disabled: bool) -> None:
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
        ]
        if disabled:
            statements.append(("UPDATE tokens SET revoked = 1 WHERE user = ?", (name,)))
        await self._write_many(statements)

    async def revoke_tokens(self, name: str) -> int:
        return await self._write(
            "UPDATE tokens SET revoked = 1 WHERE user = ? AND revoked = 0", (name,)
        )

    async def add_token(
        self, token_hash: str, user: str, created_at: float, expires: float
    ) -> None:
        await self._write(
            "INSERT INTO tokens (hash, user, created_at, expires_at, revoked)"
            " VALUES (?, ?, ?, ?, 0)",
            (token_hash, user, created_at, expires),
        )

    async def token_owner(self, token_hash: str, now: float) -> tuple[str, str, float] | None:
        rows = await self._read(
            "SELECT t.user, u.role, t.expires_at FROM tokens t JOIN users u ON u.name = t.user"
            " WHERE t.hash = ? AND t.revoked = 0 AND u.disabled = 0 AND t.expires_at > ?",
            (token_hash, now),
        )
        if not rows:
            return None
        user, role, expires = rows[0]
        return str(user), str(role), float(expires)

    # -- plain statements ------------------------------------------------------------------

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the rows changed."""
        async with self.write_lock:
            cursor = await self.db.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count

    async def _write_many(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run several write statements in one transaction."""
        async with self.write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    await self.db.execute(sql, params)
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only query, from committed data."""
        return [tuple(r) for r in await self.reader.execute_fetchall(sql, params)]

    # -- reports ---------------------------------------------------------------------------

    async def report_rows(self, since: float) -> list[str]:
        open_marks = ",".join("?" * len(OPEN_STATUS_VALUES))
        rows = await self._read(
            f"SELECT data FROM requests WHERE status IN ({open_marks})"
            " UNION ALL SELECT data FROM requests"
            " WHERE status IN ('completed', 'cancelled') AND updated_at >= ?",
            (*OPEN_STATUS_VALUES, since),
        )
        return [d for (d,) in rows]
