"""Years of history, written straight through the store (not the wire), so a 1,000,000-request
store is made in a minute or two instead of an hour of protocol traffic.

    python -m bench.history_seed --data-dir DIR [--database-url URL] --total N --open K

The history looks like a busy hotel group's: ``total`` requests spread evenly over two years,
the newest ``open`` of them still open, every other one created, started and completed (three
change-log entries each). The change log keeps the last ``log_days`` (30, the server's default
``log_keep_days``) and is compacted before that; stored outcomes (acks) cover the last
``outcome_days`` (7) of mutations of 40 terminals. Everything goes in through
``Store.commit_batch``, as the writer's group commits would write it, then ``compact_log``
drops the older log the way the clean-up job does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backend.store import Batch, Store, open_store
from protocol.models import Category, Priority, Request, Status

YEARS = 2
TERMINALS = 40
LOG_DAYS = 30.0
OUTCOME_DAYS = 7.0
CHUNK = 5000
ROOMS = [f"{floor}{door:02d}" for floor in range(1, 25) for door in range(1, 41)]
GUESTS = ["Ana Lima", "Ben Okafor", "Chloé Martin", "Dmitri Ivanov", "Eva Novak", "Farah Haddad"]
DESCRIPTIONS = [
    "Two extra towels and a bath mat, please",
    "Shower drains slowly; water pools near the door",
    "Late checkout requested until 14:00",
    "Wake-up call at 06:30 tomorrow",
    "Club sandwich and sparkling water to the room",
]


def _row(i: int, created: datetime, status: Status, version: int) -> Request:
    """Request number ``i + 1`` as it stands after ``version`` changes."""
    category = list(Category)[i % len(Category)]
    fields: dict[str, Any] = {
        "id": str(uuid.UUID(int=(i * 2654435761) % (1 << 122) | (4 << 76), version=4)),
        "number": i + 1,
        "room": ROOMS[i % len(ROOMS)],
        "category": category,
        "description": DESCRIPTIONS[i % len(DESCRIPTIONS)],
        "guest_name": GUESTS[i % len(GUESTS)] + f" {i % 997}" if i % 3 else None,
        "priority": list(Priority)[i % 3 + (1 if i % 50 == 0 else 0)],
        "status": status,
        "assignee": ["ana", "ben", "chloe", None][i % 4] if version > 1 else None,
        "created_by": ["ana", "ben", "chloe", "demo"][i % 4],
        "created_at": created,
        "updated_at": created + timedelta(minutes=20 * (version - 1)),
        "due_at": created + timedelta(minutes=60),
        "version": version,
        "started_at": created + timedelta(minutes=20) if version >= 2 else None,
        "completed_at": created + timedelta(minutes=40) if version >= 3 else None,
        "field_versions": {"status": version} if version > 1 else {},
    }
    return Request.model_construct(**fields)


async def seed(
    store: Store, total: int, open_count: int, now: datetime | None = None
) -> dict[str, Any]:
    """Fill an empty store; returns what was written (counts and the oldest request's id)."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    span = timedelta(days=365 * YEARS)
    log_from = (now - timedelta(days=LOG_DAYS)).timestamp()
    outcome_from = (now - timedelta(days=OUTCOME_DAYS)).timestamp()
    state = store.state
    seq = 0
    kept_from: int | None = None
    client_n = [0] * TERMINALS
    entries = outcomes = 0
    for start in range(0, total, CHUNK):
        batch = Batch(head_seq=state.head_seq, next_number=state.next_number)
        batch.base_commit = state.commits
        for i in range(start, min(total, start + CHUNK)):
            created = now - span + span * (i / total)
            still_open = i >= total - open_count
            steps = (
                [Status.PENDING]
                if still_open
                else [
                    Status.PENDING,
                    Status.IN_PROGRESS,
                    Status.COMPLETED,
                ]
            )
            terminal = i % TERMINALS
            key = f"ana/terminal-{terminal:02d}"
            last_at = (created + timedelta(minutes=20 * (len(steps) - 1))).timestamp()
            if last_at < log_from:  # all of it compacted away: only the row as it ends
                seq += len(steps)
                client_n[terminal] += len(steps)
                row = _row(i, created, steps[-1], len(steps))
                batch.rows[row.id] = (row, row.model_dump_json(), seq)
                batch.clients[key] = ("ana", client_n[terminal])
                continue
            for version, status in enumerate(steps, start=1):
                seq += 1
                row = _row(i, created, status, version)
                data = row.model_dump_json()
                at = row.updated_at.timestamp()
                client_n[terminal] += 1
                n = client_n[terminal]
                batch.rows[row.id] = (row, data, seq)
                if at >= log_from:
                    if kept_from is None:
                        kept_from = seq
                        if seq > 1:  # the entry the compaction below drops (and all before it)
                            batch.changes.append(
                                (seq - 1, row.id, "seed", "ana", None, None, 0.0, "{}")
                            )
                    name = "create_request" if version == 1 else "set_status"
                    batch.changes.append((seq, row.id, name, "ana", key[4:], n, at, data))
                    entries += 1
                    if at >= outcome_from:
                        batch.outcomes.append((key, n, "", at, seq, 0))
                        outcomes += 1
                batch.clients[key] = ("ana", n)
        batch.head_seq = seq
        batch.next_number = min(total, start + CHUNK) + 1
        await store.commit_batch(batch)
    if kept_from is not None and kept_from > 1:
        await store.compact_log(1.0)
    return {
        "requests": total,
        "open": open_count,
        "log_entries": entries,
        "outcomes": outcomes,
        "head_seq": seq,
        "oldest_id": _row(0, now - span, Status.COMPLETED, 3).id,
        "oldest_room": ROOMS[0],
        "seed_s": round(time.perf_counter() - started, 1),
    }


async def _main(ns: argparse.Namespace) -> None:
    store = await open_store(ns.data_dir, ns.database_url, load_requests=False)
    try:
        got = await seed(store, ns.total, ns.open)
    finally:
        await store.close()
    print(json.dumps(got), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=5_000)
    ns = parser.parse_args()
    if ns.data_dir is None and ns.database_url is None:
        sys.exit("history_seed: give --data-dir or --database-url")
    asyncio.run(_main(ns))


if __name__ == "__main__":
    main()
