"""Scenario "shift_report": the handover report of the last shift over a store holding a year
of history (1,000,000 requests; 100,000 with ``--quick``), on SQLite and on PostgreSQL.

The history is committed through ``Store.commit_batch`` in chunks (rows only, no change log:
a year-old log would have been compacted anyway), about 2,700 requests a day, nearly all closed,
the last two hours' partly open. The figure is ``make_report`` as ``GET /api/v1/report`` and
``frontdesk report`` run it: the indexed read of the rows the shift needs, their validation and
the computation. Baseline, same run, same store: the same query through the raw driver with
``json.loads`` per row. On SQLite the same query with the index switched off (``NOT INDEXED``)
shows what the ``(status, updated_at)`` index is worth. Target: at most 1 s.

    python -m bench.shift_report --store sqlite --count 1000000 --work DIR   # one JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import PYTHON, REPO, Result, bench_env, log

REPEATS = 5
CHUNK = 20_000
CATEGORIES = ("housekeeping", "maintenance", "room_service", "concierge", "front_desk", "other")
PRIORITIES = (("low", 20), ("normal", 55), ("high", 18), ("urgent", 7))
STAFF = ("ana", "ben", "chloe", "dev", "eli", "fay")
OPEN_SQL = (
    "SELECT data FROM requests {hint} WHERE status IN ('acknowledged', 'in_progress', 'pending')"
    " UNION ALL SELECT data FROM requests {hint}"
    " WHERE status IN ('completed', 'cancelled') AND updated_at >= ?"
)


def history(count: int, now: datetime, seed: int = 13) -> Iterator[Any]:
    """``count`` requests created evenly over the year before ``now``, oldest first."""
    from protocol.models import AlertRecord, Category, Priority, Request, Status
    from protocol.sla import DEFAULT_SLA

    rng = random.Random(seed)
    span = 365 * 86400.0
    names = [p for p, _ in PRIORITIES]
    weights = [w for _, w in PRIORITIES]
    for i in range(count):
        created = now - timedelta(seconds=span * (count - i) / count)
        category = Category(rng.choice(CATEGORIES))
        priority = Priority(rng.choices(names, weights)[0])
        due = DEFAULT_SLA.due_at(created, category, priority)
        ack = created + timedelta(minutes=rng.uniform(1, 15))
        start = ack + timedelta(minutes=rng.uniform(1, 20))
        done = start + timedelta(minutes=rng.uniform(5, 60))
        recent = now - created < timedelta(hours=2)
        roll = rng.random()
        acked_at: datetime | None = ack
        started_at: datetime | None = start
        completed_at: datetime | None = done
        if (recent and roll < 0.5) or done > now:
            status, completed_at, updated = Status.IN_PROGRESS, None, min(start, now)
            if start > now:
                status, started_at, updated = Status.ACKNOWLEDGED, None, min(ack, now)
            if ack > now:
                status, acked_at, updated = Status.PENDING, None, created
        elif roll < 0.05:
            status, acked_at, started_at, completed_at = Status.CANCELLED, None, None, None
            updated = ack
        else:
            status, updated = Status.COMPLETED, done
        alerts: tuple[AlertRecord, ...] = ()
        if priority == Priority.URGENT:
            by = rng.choice(STAFF) if status != Status.PENDING else None
            alerts = (
                AlertRecord(
                    kind="urgent",
                    at=created,
                    acknowledged_by=by,
                    acknowledged_at=ack if by else None,
                    rung_at=created,
                ),
            )
        yield Request.trusted(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            number=i + 1,
            room=f"{rng.randint(1, 15)}{rng.randint(1, 20):02d}",
            category=category,
            description="Two extra towels",
            guest_name=None,
            priority=priority,
            status=status,
            assignee=rng.choice(STAFF),
            created_by="desk",
            created_at=created,
            updated_at=updated,
            due_at=due,
            version=4,
            notes=(),
            acknowledged_at=acked_at,
            started_at=started_at,
            completed_at=completed_at,
            field_versions={},
            alerts=alerts,
        )


async def seed(data_dir: Path | None, url: str | None, count: int, now: datetime) -> float:
    """Commit the history in chunks, each through a freshly opened store (so no store holds a
    million rows in memory); returns seconds taken."""
    from backend.store import Batch, open_store

    started = time.perf_counter()
    rows = history(count, now)
    seq = 0
    while True:
        store = await open_store(data_dir, url, load_requests=False)
        try:
            batch = Batch(
                head_seq=store.state.head_seq,
                next_number=store.state.next_number,
                base_commit=store.state.commits,
            )
            for row in rows:
                seq += 1
                batch.rows[row.id] = (row, row.model_dump_json(), seq)
                if len(batch.rows) == CHUNK:
                    break
            if not batch.rows:
                return time.perf_counter() - started
            batch.head_seq = seq
            batch.next_number = seq + 1
            await store.commit_batch(batch)
        finally:
            await store.close()
        if seq % 200_000 == 0:
            log(f"  seeded {seq:,} requests")


async def measure(data_dir: Path | None, url: str | None, now: datetime) -> dict[str, Any]:
    from backend.report_api import make_report
    from backend.shifts import DEFAULT_SHIFTS, parse_shifts, resolve
    from backend.store import open_store

    name, since, until = resolve("last", parse_shifts(DEFAULT_SHIFTS), now, UTC)
    store = await open_store(data_dir, url, load_requests=False)
    try:
        times, report = [], None
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            report = await make_report(store, since, until, now, name)
            times.append(time.perf_counter() - t0)
        rows = len(await store.report_rows(since.timestamp()))
    finally:
        await store.close()
    assert report is not None
    return {
        "shift": name,
        "since": since.isoformat(),
        "seconds": statistics.median(times),
        "rows_read": rows,
        "opened": report.opened,
        "closed": report.closed,
        "still_open": len(report.still_open),
        "breaches": len(report.breaches),
        "baseline": await raw_query(data_dir, url, since.timestamp()),
    }


async def raw_query(data_dir: Path | None, url: str | None, since: float) -> dict[str, float]:
    """The same rows through the bare driver, ``json.loads`` each (and, on SQLite, the same
    query with the index switched off)."""
    out: dict[str, float] = {}
    if url:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            sql = OPEN_SQL.format(hint="").replace("?", "$1")
            times = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                for r in await conn.fetch(sql, since):
                    json.loads(r["data"])
                times.append(time.perf_counter() - t0)
        finally:
            await conn.close()
        out["indexed"] = statistics.median(times)
        return out
    import sqlite3

    assert data_dir is not None
    conn = sqlite3.connect(f"file:{data_dir / 'frontdesk.sqlite3'}?mode=ro", uri=True)
    try:
        for key, hint, repeats in (("indexed", "", REPEATS), ("full_scan", "NOT INDEXED", 1)):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for (data,) in conn.execute(OPEN_SQL.format(hint=hint), (since,)):
                    json.loads(data)
                times.append(time.perf_counter() - t0)
            out[key] = statistics.median(times)
    finally:
        conn.close()
    return out


def _child(store: str, count: int, work: Path, url: str | None) -> dict[str, Any]:
    cmd = [PYTHON, "-m", "bench.shift_report", "--store", store, "--count", str(count)]
    cmd += ["--work", str(work)] + (["--url", url] if url else [])
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=1800, cwd=REPO, env=bench_env(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool, work: Path) -> list[Result]:
    count = 100_000 if quick else 1_000_000
    results: list[Result] = []
    for store in ("sqlite", "postgresql"):
        with contextlib.ExitStack() as stack:
            url = None
            if store == "postgresql":
                from bench.instances import pg_cluster

                cluster = stack.enter_context(pg_cluster())
                url = cluster.dsn(cluster.create_database())
            log(f"shift report on {store}: seeding {count:,} requests")
            got = _child(store, count, work / store, url)
        label = "SQLite" if store == "sqlite" else "PostgreSQL"
        note = (
            f"{got['rows_read']:,} rows read of {count:,}; seeded in {got['seed_s']:.0f}s;"
            f" {got['opened']} opened, {got['still_open']} open, {got['breaches']} breaches"
        )
        results.append(
            Result(
                "shift_report",
                f"{got['shift']} shift report over {count:,} requests, {label}",
                got["seconds"] * 1000,
                "ms",
                baseline=got["baseline"]["indexed"] * 1000,
                target_abs=1000.0,
                note="baseline: the same query, raw driver + json.loads; " + note,
                extra=got,
            )
        )
        if "full_scan" in got["baseline"]:
            results.append(
                Result(
                    "shift_report",
                    f"the same query without the index (full scan), {label}, raw",
                    got["baseline"]["full_scan"] * 1000,
                    "ms",
                    note="what the (status, updated_at) index saves",
                )
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--url", default=None)
    ns = parser.parse_args()
    now = datetime.now(UTC)
    data_dir = None if ns.url else ns.work
    seeded = asyncio.run(seed(data_dir, ns.url, ns.count, now))
    got = asyncio.run(measure(data_dir, ns.url, now))
    got["seed_s"] = seeded
    print(json.dumps(got), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
