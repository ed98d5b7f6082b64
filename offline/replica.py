"""The client's local replica: confirmed rows, the durable outbox, sync state, parked conflicts.

One aiosqlite connection in WAL mode. Every await costs a thread hop (~170 µs here), so
writes are batched: a catch-up page or a burst of acks is one transaction of a few
``executemany`` calls, never a row per await. ``synchronous=NORMAL`` in WAL mode survives a
killed process (the case the outage promise is about); a power cut may lose the last commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from offline.outbox import PendingMutation
from protocol import Request

REPLICA_FILE = "replica.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    touched INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    base_version INTEGER,
    request_ids TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parked (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

UPSERT_REQUEST = """
INSERT INTO requests (id, data, version, seq, touched) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    data = excluded.data, version = excluded.version, seq = MAX(excluded.seq, requests.seq),
    touched = excluded.touched
WHERE excluded.version >= requests.version
"""


ROWS_PER_UPSERT = 4096 if sqlite3.sqlite_version_info >= (3, 32, 0) else 128
"""Most rows per multi-row upsert statement (5 parameters each: SQLite allows 32,766 bound
parameters since 3.32, 999 before).

Why: the ``sqlite3`` module lets go of the GIL while SQLite runs a statement and takes it back
after it, to bind the next one. With ``executemany`` of one row each, aiosqlite's thread needed
the GIL ~16,000 times per catch-up burst while the event loop was busy validating the next
pages, and a thread waiting for the GIL gets it only when the holder waits or its 5 ms switch
interval ends: the write crawled until the loop went idle (measured: 6 µs a row alone, 250 µs a
row beside a busy Python thread; 15 µs with 500 rows a statement). With thousands of rows a
statement the write runs on the other core while the loop works."""
FEW_ROWS = 64
"""Below this many rows (an ack burst's tail, say) they are upserted one per statement."""


def upsert_requests(count: int) -> str:
    """``UPSERT_REQUEST`` for ``count`` rows at once (statements are cached by their text)."""
    sql = _UPSERTS.get(count)
    if sql is None:
        rows = ", ".join(["(?, ?, ?, ?, ?)"] * count)
        sql = _UPSERTS[count] = UPSERT_REQUEST.replace("VALUES (?, ?, ?, ?, ?)", "VALUES " + rows)
    return sql


_UPSERTS: dict[int, str] = {}

NOTICES_KEPT = 200
"""Rejections and alerts kept for other processes on this replica (they read them quickly)."""


@dataclass
class Batch:
    """Writes that must land together (one transaction)."""

    upserts: dict[str, tuple[Request, int, str | None]] = field(default_factory=dict)
    """id -> (row, seq, its JSON as received or None); the highest version wins, here and in
    SQL (a row without its JSON is serialized once, at write)."""
    deleted: list[int] = field(default_factory=list)
    """Outbox ``n`` to delete (answered by the server)."""
    added: list[PendingMutation] = field(default_factory=list)
    """Outbox rows to insert (re-issued mutations)."""
    meta: dict[str, str] = field(default_factory=dict)
    parked: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(id, request_id, JSON, created_at) of conflicts to park."""
    unparked: list[str] = field(default_factory=list)
    notices: list[tuple[int | None, str]] = field(default_factory=list)
    """(n, JSON) of rejections and alerts, for other processes sharing this replica."""
    sent: list[int] = field(default_factory=list)
    next_n: int | None = None
    """Raise the stored next ``n`` to at least this (it never goes down)."""
    """Outbox ``n`` that went on the wire since the last batch (state and attempts)."""

    def upsert(self, row: Request, seq: int, data: str | None = None) -> None:
        old = self.upserts.get(row.id)
        if old is None or row.version >= old[0].version:
            self.upserts[row.id] = (row, max(seq, old[1]) if old else seq, data)

    def __bool__(self) -> bool:
        return (
            any((self.upserts, self.deleted, self.added, self.meta, self.parked, self.unparked))
            or bool(self.notices)
            or bool(self.sent)
            or self.next_n is not None
        )


class Replica:
    """The SQLite file under ``data_dir`` and the few values kept in ``meta``."""

    def __init__(self, db: aiosqlite.Connection, meta: dict[str, str]) -> None:
        self._db = db
        self.meta = meta
        self._lock = asyncio.Lock()
        """One transaction at a time on the one connection."""
        self.rev = 0
        """Stamp of the last write of confirmed rows (``requests.touched``): followers read
        the rows stamped after the last one they saw."""

    @classmethod
    async def open(cls, data_dir: Path) -> Replica:
        """Open or create the replica; makes the installation's ``client_id`` once."""
        _make_dir(data_dir)
        db = await aiosqlite.connect(data_dir / REPLICA_FILE, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            # A 100,000-row catch-up writes ~60 MB: a bigger page cache and fewer checkpoints
            # (each one fsyncs) make it about a third faster; both are safe settings.
            await db.execute("PRAGMA cache_size=-32768")
            await db.execute("PRAGMA wal_autocheckpoint=8192")
            await db.executescript(SCHEMA)
            async with db.execute("PRAGMA table_info(requests)") as cur:
                columns = {row[1] for row in await cur.fetchall()}
            if "touched" not in columns:
                await db.execute(
                    "ALTER TABLE requests ADD COLUMN touched INTEGER NOT NULL DEFAULT 0"
                )
            async with db.execute("SELECT key, value FROM meta") as cur:
                meta = {k: v for k, v in await cur.fetchall()}
            if "client_id" not in meta:
                meta.update(client_id=str(uuid.uuid4()), last_seq="0", next_n="1")
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", list(meta.items())
                )
                await db.execute("COMMIT")
                async with db.execute("SELECT key, value FROM meta") as cur:
                    meta = {k: v for k, v in await cur.fetchall()}
            async with db.execute("SELECT COALESCE(MAX(touched), 0) FROM requests") as cur:
                found = await cur.fetchone()
                rev = found[0] if found is not None else 0
        except BaseException:
            await db.close()
            raise
        replica = cls(db, meta)
        replica.rev = int(rev)
        return replica

    async def close(self) -> None:
        await self._db.close()

    @property
    def client_id(self) -> str:
        return self.meta["client_id"]

    @property
    def last_seq(self) -> int:
        return int(self.meta.get("last_seq", "0"))

    @property
    def next_n(self) -> int:
        return int(self.meta.get("next_n", "1"))

    async def release_memory(self) -> None:
        """Give back the page cache a bulk load or catch-up filled, and the heap it freed.

        Both leave up to ``cache_size`` (32 MiB) of pages that are rarely read again; the
        cache regrows as later work needs it. ``malloc_trim`` returns glibc's freed pages to
        the system (elsewhere it is skipped): without it the shrink shows in no RSS figure.
        """
        await self._db.execute_fetchall("PRAGMA shrink_memory")
        await asyncio.to_thread(_malloc_trim)

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of one read, fetched in the same call on the database thread.

        Several tasks share this connection (the queued replica write, the pusher adopting
        another window's edits, the follow loop). A cursor read across awaits keeps its
        statement, and so a read snapshot, open while another task's ``BEGIN IMMEDIATE`` runs on
        the same connection; SQLite then answers "database is locked" at once, without the
        busy timeout, whenever another process has committed since. Reads here never span an
        await.
        """
        return list(await self._db.execute_fetchall(sql, params))

    async def load_requests(self) -> list[str]:
        """The JSON of every confirmed row."""
        return [row[0] for row in await self._rows("SELECT data FROM requests")]

    async def load_request_page(self, before: int | None, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` confirmed rows as (rowid, JSON) below rowid ``before``, last written
        first: a page at a time keeps a 100,000-row load from holding all its JSON at once, and
        the newest rows (written last by catch-up) come first."""
        rows = await self._rows(
            "SELECT rowid, data FROM requests WHERE rowid < ? ORDER BY rowid DESC LIMIT ?",
            (before if before is not None else 1 << 62, limit),
        )
        return [(int(r[0]), r[1]) for r in rows]

    async def load_outbox(self, after: int = 0) -> list[PendingMutation]:
        """Outbox rows with ``n`` above ``after``, in ``n`` order."""
        rows = await self._rows(
            "SELECT n, name, args, base_version, request_ids, created_at, state, attempts"
            " FROM outbox WHERE n > ? ORDER BY n",
            (after,),
        )
        return [PendingMutation.from_row(tuple(row)) for row in rows]

    async def outbox_numbers(self) -> set[int]:
        return {int(row[0]) for row in await self._rows("SELECT n FROM outbox")}

    async def load_parked(self) -> list[dict[str, Any]]:
        rows = await self._rows("SELECT data FROM parked ORDER BY created_at, id")
        return [json.loads(row[0]) for row in rows]

    async def add_mutation(
        self, entry: PendingMutation, floor: int, batch: Batch | None = None
    ) -> int:
        """Queue one mutation durably; its ``n`` is allocated in the same transaction.

        ``n`` is the stored next ``n`` (never below ``floor``), read under SQLite's write lock,
        so processes sharing this replica can never hand out the same number.
        """
        batch = batch or Batch()
        db = self._db
        async with self._lock:
            await db.execute("BEGIN IMMEDIATE")
            try:
                # One thread hop (execute_fetchall), not three (execute, fetchone, close).
                rows = list(
                    await db.execute_fetchall("SELECT value FROM meta WHERE key = 'next_n'")
                )
                entry.n = max(int(rows[0][0]) if rows else 1, floor)
                batch.added.append(entry)
                batch.next_n = entry.n + 1
                await self._write(batch)
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
        self.meta.update(batch.meta)
        self.meta["next_n"] = str(entry.n + 1)
        return entry.n

    async def apply(self, batch: Batch) -> None:
        """Write a batch in one transaction (a few awaits, whatever its size)."""
        if not batch:
            return
        async with self._lock:
            await self._apply(batch)
        self.meta.update(batch.meta)
        if batch.next_n is not None and batch.next_n > self.next_n:
            self.meta["next_n"] = str(batch.next_n)

    async def _apply(self, batch: Batch) -> None:
        db = self._db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await self._write(batch)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    async def _write(self, batch: Batch) -> None:
        """The statements of a batch, inside a transaction the caller holds."""
        db = self._db
        if batch.upserts:
            self.rev += 1
            rev = self.rev
            rows = [
                (rid, row.model_dump_json() if data is None else data, row.version, seq, rev)
                for rid, (row, seq, data) in batch.upserts.items()
            ]
            await self._upsert(rows)
        if batch.deleted:
            await db.executemany("DELETE FROM outbox WHERE n = ?", [(n,) for n in batch.deleted])
        if batch.added:
            await db.executemany(
                "INSERT INTO outbox (n, name, args, base_version, request_ids, created_at,"
                " state, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [e.to_row() for e in batch.added],
            )
        if batch.parked:
            await db.executemany(
                "INSERT OR REPLACE INTO parked (id, request_id, data, created_at)"
                " VALUES (?, ?, ?, ?)",
                batch.parked,
            )
        if batch.unparked:
            await db.executemany("DELETE FROM parked WHERE id = ?", [(i,) for i in batch.unparked])
        if batch.meta:
            await db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(batch.meta.items()),
            )
        if batch.next_n is not None:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES ('next_n', ?) ON CONFLICT (key) DO UPDATE"
                " SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                (str(batch.next_n),),
            )
        if batch.sent:
            await db.executemany(
                "UPDATE outbox SET state = 'inflight', attempts = attempts + 1 WHERE n = ?",
                [(n,) for n in batch.sent],
            )
        if batch.notices:
            await db.executemany("INSERT INTO notices (n, data) VALUES (?, ?)", batch.notices)
            await db.execute(
                "DELETE FROM notices WHERE id <= (SELECT MAX(id) FROM notices) - ?",
                (NOTICES_KEPT,),
            )

    async def _upsert(self, rows: list[tuple[Any, ...]]) -> None:
        """``rows`` in statements of ``ROWS_PER_UPSERT``, then one of the rest, in order (the
        rowid order is the write order that ``load_request_page`` reads newest first)."""
        db = self._db
        whole = len(rows) - len(rows) % ROWS_PER_UPSERT
        rest = len(rows) - whole
        if whole:
            flat = [value for row in rows[:whole] for value in row]
            step = 5 * ROWS_PER_UPSERT
            chunks = [flat[i : i + step] for i in range(0, len(flat), step)]
            await db.executemany(upsert_requests(ROWS_PER_UPSERT), chunks)
        if rest >= FEW_ROWS:
            await db.execute(upsert_requests(rest), [v for row in rows[whole:] for v in row])
        elif rest:
            await db.executemany(UPSERT_REQUEST, rows[whole:])

    # -- reads for a follower (another process on the same replica) ----------------------------

    async def data_version(self) -> int:
        """Changes whenever another connection commits to the file."""
        return int((await self._rows("PRAGMA data_version"))[0][0])

    async def rows_touched_after(self, rev: int) -> tuple[list[str], int]:
        """JSON of confirmed rows written after stamp ``rev``, and the newest stamp."""
        rows = await self._rows("SELECT data, touched FROM requests WHERE touched > ?", (rev,))
        return [r[0] for r in rows], max((int(r[1]) for r in rows), default=rev)

    async def load_notices(self, after: int) -> list[tuple[int, int | None, str]]:
        rows = await self._rows(
            "SELECT id, n, data FROM notices WHERE id > ? ORDER BY id", (after,)
        )
        return [(int(i), n, d) for i, n, d in rows]

    async def last_notice(self) -> int:
        return int((await self._rows("SELECT COALESCE(MAX(id), 0) FROM notices"))[0][0])

    async def reload_meta(self) -> dict[str, str]:
        self.meta = {k: v for k, v in await self._rows("SELECT key, value FROM meta")}
        return self.meta

    async def max_rev(self) -> int:
        self.rev = int((await self._rows("SELECT COALESCE(MAX(touched), 0) FROM requests"))[0][0])
        return self.rev

    async def delete_requests(self, ids: list[str]) -> None:
        """Let go of confirmed rows (closed ones that aged out of the window)."""
        if not ids:
            return
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(
                    "DELETE FROM requests WHERE id = ?", [(rid,) for rid in ids]
                )
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise

    async def forget_server(self, server_id: str) -> None:
        """A different server (its database was replaced): drop confirmed rows, restart at 0."""
        async with self._lock:
            await self._forget_server(server_id)
        self.meta.update(server_id=server_id, last_seq="0")

    async def _forget_server(self, server_id: str) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute("DELETE FROM requests")
            await self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("server_id", server_id), ("last_seq", "0")],
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise


def _make_dir(path: Path) -> None:
    """The terminal's data directory 0700 and its replica 0600 whatever the umask: they hold
    every request and guest name. SQLite gives the -wal and -shm files the replica's mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    replica = path / REPLICA_FILE
    os.close(os.open(replica, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(replica, 0o600)


def _malloc_trim() -> None:
    """Return freed heap pages to the system where the C library can (glibc)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
