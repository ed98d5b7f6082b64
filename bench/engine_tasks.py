"""Client-side work through the real offline engine, each run in its own process.

    python -m bench.engine_tasks catchup --server URL --token T --data-dir DIR --expect N
    python -m bench.engine_tasks replay  --server URL --token T --data-dir DIR --count N

``catchup``: an empty replica, started against a server holding N requests; timed from
``start()`` until the view holds N rows and the status says caught up. Then the baseline: the
same rows (read back from the replica) written by plain ``sqlite3`` ``executemany`` in one
transaction into a table of the same shape, WAL and ``synchronous=NORMAL`` like the replica.

``replay``: N creates made offline (``server_url=None``; each one durable in the outbox before
it returns), the engine closed, reopened against the server and timed from ``start()`` until
nothing is pending. One JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import profiled, rss_kib
from bench.run_frontdesk import USER
from offline.engine import Engine, EngineConfig
from offline.events import EngineEvent
from protocol.models import Role

REPLICA_FILE = "replica.sqlite3"


async def _wait(engine: Engine, done, timeout: float) -> bool:
    """Wait until ``done()`` holds, re-checked on every engine event (no polling sleeps)."""
    changed = asyncio.Event()

    def on_event(_: EngineEvent) -> None:
        changed.set()

    unsubscribe = engine.subscribe(on_event)
    try:
        async with asyncio.timeout(timeout):
            while not done():
                changed.clear()
                await changed.wait()
        return True
    except TimeoutError:
        return False
    finally:
        unsubscribe()


def sqlite_baseline(replica: Path) -> dict[str, Any]:
    """Plain sqlite3 executemany of the replica's rows into an empty table of the same shape."""
    with sqlite3.connect(replica) as src:
        rows = src.execute("SELECT id, data, version, seq FROM requests").fetchall()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "baseline.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE requests (id TEXT PRIMARY KEY, data TEXT NOT NULL, "
            "version INTEGER NOT NULL, seq INTEGER NOT NULL)"
        )
        t0 = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO requests VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        db.close()
    return {"rows": len(rows), "elapsed": elapsed, "rows_per_s": len(rows) / elapsed}


async def catchup(server: str, token: str, data_dir: Path, expect: int) -> dict[str, Any]:
    config = EngineConfig(
        data_dir=data_dir, user=USER, role=Role.MANAGER, server_url=server, token=token
    )
    engine = await Engine.open(config)
    t0, cpu0, main0 = time.perf_counter(), time.process_time(), time.thread_time()
    await engine.start()

    def caught_up() -> bool:
        status = engine.status
        return (
            not status.catching_up
            and status.last_synced_at is not None
            and len(engine.requests()) >= expect
        )

    ok = await _wait(engine, caught_up, 120)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # every thread of this process, aiosqlite's included
    main_cpu = time.thread_time() - main0  # the event loop's thread alone
    rows = len(engine.requests())
    rss = rss_kib(os.getpid())
    await engine.close()
    base = sqlite_baseline(data_dir / REPLICA_FILE)
    return {
        "ok": ok,
        "rows": rows,
        "elapsed": elapsed,
        "rows_per_s": rows / elapsed,
        "baseline": base,
        "client_rss_kib": rss,
        "client_cpu_s": cpu,
        "client_main_cpu_s": main_cpu,
    }


async def replay(server: str, token: str, data_dir: Path, count: int) -> dict[str, Any]:
    offline = await Engine.open(EngineConfig(data_dir=data_dir, user=USER, role=Role.MANAGER))
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(count):
        await offline.create_request(
            room=str(100 + i % 900),
            category="housekeeping",
            description="Extra pillows, made while the server was down",
            priority="normal",
            guest_name="Replay Guest",
        )
    create_s = time.perf_counter() - t0
    create_cpu = time.process_time() - cpu0
    pending_before = offline.status.pending
    await offline.close()

    config = EngineConfig(
        data_dir=data_dir, user=USER, role=Role.MANAGER, server_url=server, token=token
    )
    engine = await Engine.open(config)
    rejected: list[str] = []

    def on_event(event: EngineEvent) -> None:
        if type(event).__name__ == "MutationRejected":
            rejected.append(getattr(event, "code", "?"))

    engine.subscribe(on_event)
    t0, cpu0, main0 = time.perf_counter(), time.process_time(), time.thread_time()
    await engine.start()
    ok = await _wait(engine, lambda: engine.status.pending == 0, 60)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0  # every thread of this process, aiosqlite's included
    main_cpu = time.thread_time() - main0
    numbered = sum(1 for r in engine.requests() if r.number is not None)
    await engine.close()
    return {
        "ok": ok,
        "count": count,
        "pending_before": pending_before,
        "elapsed": elapsed,
        "numbered": numbered,
        "rejected": len(rejected),
        "offline_create_s": create_s,
        "offline_creates_per_s": count / create_s,
        "offline_create_cpu_s": create_cpu,
        "client_cpu_s": cpu,
        "client_main_cpu_s": main_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["catchup", "replay"])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--expect", type=int, default=100_000)
    parser.add_argument("--count", type=int, default=10_000)
    ns = parser.parse_args()
    if ns.kind == "catchup":
        coro = catchup(ns.server, ns.token, ns.data_dir, ns.expect)
    else:
        coro = replay(ns.server, ns.token, ns.data_dir, ns.count)
    result = profiled(f"engine-{ns.kind}-{ns.data_dir.name}", lambda: asyncio.run(coro))
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
