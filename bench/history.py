"""Scenario: years of history. A store seeded with N requests (1,000,000, of which 5,000 open;
``--quick``: 100,000) straight through the store (``bench.history_seed``), on SQLite and on
PostgreSQL, then:

- the server's restart (a second start on the same store): process start → ``/readyz`` 200,
  and its RSS once ready (target ≤ 2 s and ≤ 300 MB); baseline: a Python process importing the
  server's modules plus plain aiosqlite / asyncpg reading the open rows the server keeps (what
  a start-up cannot avoid);
- the database's size and bytes per request, split over rows, change log, stored outcomes
  and indexes;
- a new terminal's catch-up (time, rows, replica file size) through the real offline engine,
  then the real TUI's first paint and RSS on that replica (``bench.tui_tasks``, short run);
- a lookup of a two-year-old request (``/api/v1/requests?room=…``, its first page), beside the
  same ``SELECT`` through plain aiosqlite;
- the bytes per request of a store filled through the protocol (20,000 creates), where every
  request has its log entry and stored answer.

    python -m bench history [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.harness import PYTHON, Child, Result, bench_env, log, rss_kib, run_json
from bench.instances import pg_cluster
from bench.servers import SERVER_ENV, Running, frontdesk_server, get_token

OPEN = 5_000
OPEN_SQL = "status IN ('pending','acknowledged','in_progress')"


def _seed(data_dir: Path, url: str | None, total: int) -> dict[str, Any]:
    cmd = [PYTHON, "-m", "bench.history_seed", "--data-dir", str(data_dir)]
    if url:
        cmd += ["--database-url", url]
    cmd += ["--total", str(total), "--open", str(OPEN)]
    log(f"seeding {total:,} requests ({'PostgreSQL' if url else 'SQLite'})")
    got: dict[str, Any] = run_json(cmd, timeout=3600)
    log(f"seeded in {got['seed_s']}s")
    return got


def _restart(data_dir: Path, url: str | None) -> tuple[float, Running]:
    """Start the server on a store it has served before; seconds from the process start until
    ``/readyz`` answers 200 (signing in comes after, untimed)."""
    cmd = [PYTHON, "-m", "bench.run_frontdesk", "--data-dir", str(data_dir)]
    if url:
        cmd += ["--database-url", url]
    started = time.perf_counter()
    proc = Child(cmd, env=bench_env(**SERVER_ENV))
    try:
        line = proc.wait_line("frontdesk: listening on ", 120)
        http_url = line.split("listening on ", 1)[1].strip()
        with httpx.Client(trust_env=False, timeout=10) as client:
            while client.get(f"{http_url}/readyz").status_code != 200:
                time.sleep(0.01)
        ready_s = time.perf_counter() - started
        ws_url = http_url.replace("http://", "ws://", 1) + "/ws"
        return ready_s, Running(proc, ws_url, http_url, get_token(http_url))
    except BaseException:
        proc.stop(timeout=10)
        raise


def python_start_s() -> float:
    """Seconds for a Python process to start and import the server's modules, no store."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", "import backend.app"], check=True)
    return time.perf_counter() - started


def sqlite_sizes(path: Path) -> dict[str, int]:
    """Bytes on disk per table (with its own b-tree) and per index, from ``dbstat``."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        kinds = dict(db.execute("SELECT name, type FROM sqlite_schema").fetchall())
    return {f"{kinds.get(name, 'table')}:{name}": int(size) for name, size in rows}


async def pg_sizes(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        records = await conn.fetch(
            "SELECT c.relname, c.relkind, pg_total_relation_size(c.oid) - "
            " CASE WHEN c.relkind = 'r' THEN pg_indexes_size(c.oid) ELSE 0 END AS bytes"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
        )
    finally:
        await conn.close()
    return {
        f"{'index' if r['relkind'] in (b'i', 'i') else 'table'}:{r['relname']}": int(r["bytes"])
        for r in records
    }


def split(sizes: dict[str, int], total: int) -> dict[str, float]:
    """Bytes per request: rows, change log, stored outcomes, indexes, the rest."""
    parts = {"rows": 0, "change_log": 0, "outcomes": 0, "indexes": 0, "other": 0}
    for name, size in sizes.items():
        kind, _, table = name.partition(":")
        if kind == "index" or table.startswith("sqlite_autoindex"):
            parts["indexes"] += size
        elif table == "requests":
            parts["rows"] += size
        elif table == "changes":
            parts["change_log"] += size
        elif table == "outcomes":
            parts["outcomes"] += size
        else:
            parts["other"] += size
    return {k: round(v / total, 1) for k, v in parts.items()} | {
        "total_mb": round(sum(sizes.values()) / 1e6, 1)
    }


async def raw_open_rows(path: Path | None, url: str | None) -> dict[str, float]:
    """What a start-up cannot avoid: read the open rows' JSON (plain aiosqlite / asyncpg)."""
    t0 = time.perf_counter()
    if url:
        import asyncpg

        conn = await asyncpg.connect(url)
        rows = await conn.fetch(f"SELECT data FROM requests WHERE {OPEN_SQL}")
        await conn.close()
    else:
        import aiosqlite

        assert path is not None
        async with aiosqlite.connect(path) as db:
            rows = list(await db.execute_fetchall(f"SELECT data FROM requests WHERE {OPEN_SQL}"))
    return {"rows": len(rows), "elapsed": time.perf_counter() - t0}


async def raw_lookup(path: Path, room: str) -> float:
    import aiosqlite

    t0 = time.perf_counter()
    async with aiosqlite.connect(path) as db:
        await db.execute_fetchall(
            "SELECT number, data FROM requests WHERE room = ? ORDER BY number LIMIT 101", (room,)
        )
    return time.perf_counter() - t0


def _lookup(server: Running, room: str, oldest_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(trust_env=False, timeout=60, headers=headers) as client:
        t0 = time.perf_counter()
        page = client.get(f"{server.http_url}/api/v1/requests", params={"room": room}).json()
        elapsed = time.perf_counter() - t0
    found = any(r["id"] == oldest_id for r in page["requests"])
    return {"elapsed": elapsed, "found": found, "rows": len(page["requests"])}


def _catchup(server: Running, replica: Path) -> dict[str, Any]:
    cmd = [PYTHON, "-m", "bench.engine_tasks", "catchup", "--server", str(server.http_url)]
    cmd += [f"--token={server.token}", "--data-dir", str(replica), "--expect", "1"]
    got: dict[str, Any] = run_json(cmd, timeout=600)
    got["replica_mb"] = round(
        sum(f.stat().st_size for f in replica.iterdir() if f.is_file()) / 1e6, 1
    )
    return got


def _tui(server: Running, replica: Path) -> dict[str, Any]:
    """The real TUI, headless, on the caught-up replica (``bench.tui_tasks``): first paint
    and RSS (a short run: a few live changes and key presses)."""
    cmd = [PYTHON, "-m", "bench.tui_tasks", "frontdesk", "--server", str(server.http_url)]
    cmd += ["--ws-url", server.ws_url, f"--token={server.token}", "--data-dir", str(replica)]
    cmd += ["--changes", "5", "--presses", "10", "--filter-reps", "1"]
    got: dict[str, Any] = run_json(cmd, timeout=400)
    return got


def _measure(label: str, data_dir: Path, url: str | None, total: int, work: Path) -> list[Result]:
    seeded = _seed(data_dir, url, total)
    db_file = data_dir / "frontdesk.sqlite3"
    raw = asyncio.run(raw_open_rows(None if url else db_file, url))
    raw["elapsed"] += python_start_s()
    with frontdesk_server(data_dir, url):  # the first start makes the bench's account
        pass
    ready_s, server = _restart(data_dir, url)
    try:
        rss_mb = rss_kib(server.pid) / 1024
        log(f"{label}: ready in {ready_s:.2f}s, RSS {rss_mb:.0f} MB")
        lookup = _lookup(server, seeded["oldest_room"], seeded["oldest_id"])
        catchup = _catchup(server, work / f"replica-{label}")
        tui = _tui(server, work / f"replica-{label}")
        rss_after_mb = rss_kib(server.pid) / 1024
    finally:
        server.child.stop(timeout=60)
    sizes = asyncio.run(pg_sizes(url)) if url else sqlite_sizes(db_file)
    per_request = split(sizes, total)
    base_lookup = None if url else asyncio.run(raw_lookup(db_file, seeded["oldest_room"]))
    extra = {"seeded": seeded, "sizes": sizes, "per_request": per_request}
    at = f"{label} @ {total:,}"
    return [
        Result(
            "history",
            f"restart → /readyz 200, {at}",
            ready_s,
            "s",
            baseline=raw["elapsed"],
            target_abs=2.0,
            note="baseline: Python importing the server + plain driver reading the open rows",
            extra=extra,
        ),
        Result("history", f"server RSS once ready, {at}", rss_mb, "MB", target_abs=300.0),
        Result("history", f"server RSS after catch-up + lookup, {at}", rss_after_mb, "MB"),
        Result(
            "history",
            f"database bytes per request, {at}",
            sum(v for k, v in per_request.items() if k != "total_mb"),
            "B",
            note=" ".join(f"{k}={v}" for k, v in per_request.items()),
        ),
        Result(
            "history",
            f"new terminal catch-up, {at}",
            catchup["elapsed"],
            "s",
            note=f"{catchup['rows']:,} rows, replica {catchup['replica_mb']} MB, "
            f"client RSS {catchup['client_rss_kib'] / 1024:.0f} MB",
            extra={"catchup": catchup},
        ),
        Result(
            "history",
            f"TUI first paint on the new terminal's replica, {at}",
            tui.get("first_paint_ms"),
            "ms",
            note=f"{tui.get('rows', 0):,} rows; TUI RSS {tui.get('rss_kib', 0) / 1024:.0f} MB",
            extra={"tui": {k: v for k, v in tui.items() if not k.endswith("samples_ms")}},
        ),
        Result(
            "history",
            f"lookup of a two-year-old request (room), {at}",
            lookup["elapsed"] * 1000,
            "ms",
            baseline=None if base_lookup is None else base_lookup * 1000,
            note=f"found={lookup['found']}; baseline: aiosqlite, same SELECT",
            extra={"lookup": lookup},
        ),
    ]


def wire_filled(work: Path, count: int) -> list[Result]:
    """Where the bytes of requests logged through the protocol go (every one created by a
    terminal: its row, its log entry, its stored answer), SQLite."""
    from bench.creates import pipelined_creates

    data_dir = work / "wire"
    with frontdesk_server(data_dir) as server:
        got = pipelined_creates(server.ws_url, server.token, 8, count, duration=120.0)
    sizes = sqlite_sizes(data_dir / "frontdesk.sqlite3")
    per_request = split(sizes, got["acked"])
    return [
        Result(
            "history",
            f"database bytes per request, filled through the wire, SQLite @ {got['acked']:,}",
            sum(v for k, v in per_request.items() if k != "total_mb"),
            "B",
            note=" ".join(f"{k}={v}" for k, v in per_request.items()),
            extra={"sizes": sizes},
        )
    ]


@contextlib.contextmanager
def _pg_database() -> Iterator[str]:
    with pg_cluster() as cluster:
        name = cluster.create_database()
        yield cluster.dsn(name)


def run(quick: bool, work: Path) -> list[Result]:
    total = 100_000 if quick else 1_000_000
    work.mkdir(parents=True, exist_ok=True)
    results = wire_filled(work, 20_000)
    results += _measure("SQLite", work / "sqlite", None, total, work)
    try:
        with _pg_database() as url:
            results += _measure("PostgreSQL", work / "pg", url, total, work)
    except Exception as exc:  # no PostgreSQL here: say so, keep the SQLite figures
        results.append(Result("history", "PostgreSQL", None, "", note=f"error: {exc!r}"[:160]))
    return results
