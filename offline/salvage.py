"""A corrupt replica is moved aside and rebuilt: the outbox and the installation id survive.

Confirmed rows are only a cache of the server, so losing them costs a catch-up; the outbox (edits
nobody else has) and ``client_id``/``next_n`` (exactly-once depends on them) are what must be
kept. Each table is read on its own, so a bad page in one does not take the others with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from offline.outbox import PendingMutation
from offline.replica import REPLICA_FILE, Batch, Replica

log = logging.getLogger(__name__)


def _read(path: Path) -> tuple[dict[str, str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    meta: dict[str, str] = {}
    outbox: list[tuple[Any, ...]] = []
    parked: list[tuple[Any, ...]] = []
    try:
        db = sqlite3.connect(path)
    except sqlite3.Error:
        return meta, outbox, parked
    try:
        with contextlib.suppress(sqlite3.Error):
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        with contextlib.suppress(sqlite3.Error):
            outbox = db.execute(
                "SELECT n, name, args, base_version, request_ids, created_at, state, attempts"
                " FROM outbox ORDER BY n"
            ).fetchall()
        with contextlib.suppress(sqlite3.Error):
            parked = db.execute("SELECT id, request_id, data, created_at FROM parked").fetchall()
    finally:
        db.close()
    return meta, outbox, parked


def _move_aside(data_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = data_dir / f"{REPLICA_FILE}.corrupt-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        source = data_dir / f"{REPLICA_FILE}{suffix}"
        if source.exists():
            source.rename(Path(f"{target}{suffix}"))
    return target


async def rebuild(data_dir: Path, reason: BaseException) -> None:
    """Move the damaged file aside and start a fresh one with what could be read from it."""
    path = data_dir / REPLICA_FILE
    meta, rows, parked = await asyncio.to_thread(_read, path)
    aside = await asyncio.to_thread(_move_aside, data_dir)
    log.error("replica %s is damaged (%s); kept as %s, rebuilding", path, reason, aside)
    entries = []
    for row in rows:
        with contextlib.suppress(ValueError, TypeError):
            entries.append(PendingMutation.from_row(tuple(row)))
    replica = await Replica.open(data_dir)
    try:
        batch = Batch(added=entries, parked=[tuple(p) for p in parked])
        keep = {k: v for k, v in meta.items() if k in ("client_id", "server_id", "clock_offset")}
        batch.meta.update(keep, last_seq="0")
        last_n = max((e.n for e in entries), default=0)
        stored = int(meta["next_n"]) if meta.get("next_n", "").isdigit() else 1
        batch.next_n = max(stored, last_n + 1)
        await replica.apply(batch)
    finally:
        await replica.close()
