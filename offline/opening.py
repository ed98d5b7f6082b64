"""Opening a replica for an engine: the leader's lock, the rows, the outbox, the owner.

Kept apart from ``offline.engine`` so the engine reads as its API: what ``Engine.open`` needs
before there is an engine (and what a damaged file or another user's pending edits refuse).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from offline import salvage
from offline.conflicts import Conflict
from offline.errors import ReplicaUnavailable
from offline.outbox import Outbox
from offline.replica import Batch, Replica
from offline.rows import from_replica, settle_heap
from offline.shared import open_lock
from protocol import Request

LOCK_FILE = "replica.lock"
LOAD_CHUNK = 2000
"""Rows validated between two yields to the event loop while a big replica opens (~20 ms)."""


@dataclass
class Opened:
    """A replica opened for one engine, with what was loaded from it."""

    replica: Replica
    lock_fd: int
    leader: bool
    """True when this process got the leader's lock (it syncs the replica)."""
    confirmed: dict[str, Request]
    outbox: Outbox
    conflicts: list[Conflict]
    rest_before: int | None
    """The rowid below which rows are still to be loaded (None: all are)."""


async def open_replica(data_dir: Path, user: str, first: int | None) -> Opened:
    """Lock, open (salvaging a damaged file when leading), load and claim the replica in
    ``data_dir`` for ``user``; ``ReplicaUnavailable`` with one line when it cannot be used."""
    try:
        lock_fd, leader = _lock_data_dir(data_dir)
    except OSError as exc:
        raise ReplicaUnavailable(f"cannot open the local replica in {data_dir}: {exc}") from exc
    try:
        try:
            loaded = await _load(data_dir, first)
        except sqlite3.DatabaseError as exc:
            if not leader:
                raise
            await salvage.rebuild(data_dir, exc)
            loaded = await _load(data_dir, first)
    except (OSError, sqlite3.Error) as exc:
        os.close(lock_fd)
        raise ReplicaUnavailable(f"cannot open the local replica in {data_dir}: {exc}") from exc
    except BaseException:
        os.close(lock_fd)
        raise
    replica, confirmed, outbox, conflicts, rest_before = loaded
    try:
        await _claim_for(replica, user, len(outbox))
    except BaseException:
        await replica.close()
        os.close(lock_fd)
        raise
    return Opened(replica, lock_fd, leader, confirmed, outbox, conflicts, rest_before)


async def _claim_for(replica: Replica, user: str, pending: int) -> None:
    """Bind the replica's outbox to ``user``: one person's pending edits are never sent as
    another's (``created_by`` and note authors are the audit trail). A terminal shared across
    shifts switches user freely once the outbox is empty; until then it refuses, saying whose
    edits wait, so they can be sent by their author first."""
    owner = replica.meta.get("user")
    if owner == user:
        return
    if owner and pending:
        raise ReplicaUnavailable(
            f"this terminal still holds {pending} unsent edit(s) by {owner}: "
            f"sign in as {owner} to send them first"
        )
    await replica.apply(Batch(meta={"user": user}))


async def _load(
    data_dir: Path, first: int | None = None
) -> tuple[Replica, dict[str, Request], Outbox, list[Conflict], int | None]:
    """The replica, its rows (``first``: only that many), outbox and parked conflicts, and the
    rowid below which rows are still to be loaded (None: all are)."""
    replica = await Replica.open(data_dir)
    try:
        confirmed: dict[str, Request] = {}
        before: int | None = None
        while True:
            limit = LOAD_CHUNK if first is None else max(1, min(LOAD_CHUNK, first - len(confirmed)))
            page = await replica.load_request_page(before, limit)
            for row in from_replica(data for _, data in page):
                confirmed.setdefault(row.id, row)
            settle_heap()  # the collector would rescan the growing heap again and again
            if len(page) < limit:
                before = None
                break
            before = page[-1][0]
            if first is not None and len(confirmed) >= first:
                break
        outbox = Outbox(await replica.load_outbox())
        conflicts = [Conflict.from_json(c) for c in await replica.load_parked()]
    except BaseException:
        await replica.close()
        raise
    return replica, confirmed, outbox, conflicts, before


def _lock_data_dir(data_dir: Path) -> tuple[int, bool]:
    """The lock file and whether this process leads (syncs) the replica in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_lock(data_dir / LOCK_FILE)
