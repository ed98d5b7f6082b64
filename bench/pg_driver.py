"""Scenario "pg_driver": asyncpg against psycopg 3 (async) on the work the PostgreSQL store does.

The store's write path is group commit: one transaction per batch that bumps a counter row
(``UPDATE … SET v = v + n RETURNING v``, the gap-free ``seq``), inserts the batch's change rows
(about 1 KB of JSON each) and sends one NOTIFY carrying the new head. Eight writers do that
concurrently, each on its own connection, at 20 and at 200 rows per transaction, with the rows
sent by ``executemany``, as arrays through one ``INSERT … SELECT FROM unnest(…)``, or as one
statement (counter, rows and NOTIFY in data-modifying CTEs: one round trip, no BEGIN/COMMIT).
Beside it: how long a NOTIFY takes to reach a LISTENing connection (idle, and under that write
load), and a single-row SELECT by primary key. The client's CPU per row matters as much as
rows/s: on this machine PostgreSQL, the instances and the load share two cores.

Each driver runs against a fresh database of a throw-away cluster (tests/pg_cluster.py) with
``fsync`` on, as in production (``--fsync off`` to compare); the drivers alternate, and each
figure is the better of two rounds.

    python -m bench.pg_driver [--quick] [--seconds S] [--fsync off]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO, Result, percentile, table

WRITERS = 8
BATCHES = (20, 200)
STYLES = ("executemany", "unnest", "one_statement")
DRIVERS = ("asyncpg", "psycopg")

SCHEMA = """
CREATE TABLE counter (name text PRIMARY KEY, v bigint NOT NULL);
INSERT INTO counter VALUES ('seq', 0);
CREATE TABLE changes (seq bigint PRIMARY KEY, request_id text NOT NULL, body jsonb NOT NULL);
"""
BUMP = "UPDATE counter SET v = v + {n} WHERE name = 'seq' RETURNING v"
INSERT_ROW = "INSERT INTO changes (seq, request_id, body) VALUES ({a}, {b}, {c}::jsonb)"
INSERT_ARRAYS = (
    "INSERT INTO changes (seq, request_id, body) "
    "SELECT * FROM unnest({a}::bigint[], {b}::text[], {c}::jsonb[])"
)
NOTIFY = "SELECT pg_notify('changes', {a})"
ONE_STATEMENT = """
WITH head AS (
    UPDATE counter SET v = v + cardinality({a}::text[]) WHERE name = 'seq' RETURNING v
), rows AS (
    INSERT INTO changes (seq, request_id, body)
    SELECT head.v - cardinality({a}::text[]) + r.ord, r.id, r.body
    FROM head, unnest({a}::text[], {b}::jsonb[]) WITH ORDINALITY AS r(id, body, ord)
)
SELECT v, pg_notify('changes', v::text) FROM head
"""
"""The whole group commit as one statement in its own implicit transaction: one round trip,
and the counter row is locked only while the statement runs and its commit is flushed."""
POINT = "SELECT body FROM changes WHERE seq = {a}"


def body(i: int) -> str:
    """A change row as the store keeps it: about 1 KB of JSON."""
    return json.dumps(
        {
            "id": f"{i:08d}-7c1e-4a55-9d1b-{random.getrandbits(48):012x}",
            "ticket": i,
            "room": f"{100 + i % 400}",
            "category": "housekeeping",
            "status": "open",
            "priority": "normal",
            "summary": "Extra towels and two pillows, guest asks for feather-free",
            "notes": "Guest arriving late; leave at the door. " * 20,
            "created_by": "ann",
            "assigned_to": None,
            "version": 1,
            "created_at": "2026-12-05T10:00:00.000000Z",
            "updated_at": "2026-12-05T10:00:00.000000Z",
        }
    )


@dataclass
class Stats:
    """What one run measured."""

    rows: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    txn_ms: list[float] = field(default_factory=list)
    notify_ms: list[float] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_us_per_row(self) -> float:
        return self.cpu / self.rows * 1e6


class Driver:
    """The few calls the store needs, in one driver's own idiom (public API only)."""

    name = ""
    placeholders: Sequence[str] = ()

    def sql(self, template: str) -> str:
        a, b, c = self.placeholders
        return template.format(a=a, b=b, c=c, n=a)

    async def connect(self, url: str) -> Any:
        raise NotImplementedError

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def execute_script(self, conn: Any, script: str) -> None:
        raise NotImplementedError

    async def write_batch(self, conn: Any, rows: list[tuple[str, str]], style: str) -> int:
        """One group commit: bump the counter, insert the rows, notify the head; the head."""
        raise NotImplementedError

    async def listen(
        self, url: str, channel: str, on_payload: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]]:
        """Deliver each NOTIFY payload on ``channel`` to ``on_payload``; returns a closer."""
        raise NotImplementedError

    async def notify(self, conn: Any, channel: str, payload: str) -> None:
        raise NotImplementedError

    async def point_select(self, conn: Any, seq: int) -> str:
        raise NotImplementedError


class Asyncpg(Driver):
    name = "asyncpg"
    placeholders = ("$1", "$2", "$3")

    async def connect(self, url: str) -> Any:
        import asyncpg

        return await asyncpg.connect(url)

    async def execute_script(self, conn: Any, script: str) -> None:
        await conn.execute(script)

    async def write_batch(self, conn: Any, rows: list[tuple[str, str]], style: str) -> int:
        n = len(rows)
        if style == "one_statement":
            ids, bodies = [r[0] for r in rows], [r[1] for r in rows]
            return await conn.fetchval(self.sql(ONE_STATEMENT), ids, bodies)
        async with conn.transaction():
            head = await conn.fetchval(self.sql(BUMP), n)
            first = head - n + 1
            if style == "unnest":
                seqs = list(range(first, head + 1))
                ids = [r[0] for r in rows]
                bodies = [r[1] for r in rows]
                await conn.execute(self.sql(INSERT_ARRAYS), seqs, ids, bodies)
            else:
                args = [(first + i, rid, text) for i, (rid, text) in enumerate(rows)]
                await conn.executemany(self.sql(INSERT_ROW), args)
            await conn.execute(self.sql(NOTIFY), str(head))
        return head

    async def listen(
        self, url: str, channel: str, on_payload: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]]:
        conn = await self.connect(url)
        await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_payload(payload))
        return conn.close

    async def notify(self, conn: Any, channel: str, payload: str) -> None:
        await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def point_select(self, conn: Any, seq: int) -> str:
        return await conn.fetchval(self.sql(POINT), seq)


class Psycopg(Driver):
    """psycopg with binary parameters (``%b``): its text-format array dumping costs about 55 µs
    per 1 KB row here, binary under 1 µs, so ``%s`` would measure the wrong thing."""

    name = "psycopg"
    placeholders = ("%b", "%b", "%b")

    def named(self, template: str) -> str:
        """psycopg repeats a parameter by name: ``{a}`` → ``%(ids)b``, ``{b}`` → ``%(bodies)b``."""
        return template.format(a="%(ids)b", b="%(bodies)b")

    async def connect(self, url: str) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(url, autocommit=True)

    async def execute_script(self, conn: Any, script: str) -> None:
        await conn.execute(script)

    async def write_batch(self, conn: Any, rows: list[tuple[str, str]], style: str) -> int:
        n = len(rows)
        if style == "one_statement":
            ids, bodies = [r[0] for r in rows], [r[1] for r in rows]
            params = {"ids": ids, "bodies": bodies}
            cur = await conn.execute(self.named(ONE_STATEMENT), params)
            return (await cur.fetchone())[0]
        async with conn.transaction():
            cur = await conn.execute(self.sql(BUMP), (n,))
            head = (await cur.fetchone())[0]
            first = head - n + 1
            if style == "unnest":
                seqs = list(range(first, head + 1))
                ids = [r[0] for r in rows]
                bodies = [r[1] for r in rows]
                await conn.execute(self.sql(INSERT_ARRAYS), (seqs, ids, bodies))
            else:
                args = [(first + i, rid, text) for i, (rid, text) in enumerate(rows)]
                async with conn.cursor() as cur:
                    await cur.executemany(self.sql(INSERT_ROW), args)
            await conn.execute(self.sql(NOTIFY), (str(head),))
        return head

    async def listen(
        self, url: str, channel: str, on_payload: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]]:
        conn = await self.connect(url)
        await conn.execute(f"LISTEN {channel}")

        async def pump() -> None:
            async for note in conn.notifies():
                on_payload(note.payload)

        task = asyncio.create_task(pump())

        async def close() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await conn.close()

        return close

    async def notify(self, conn: Any, channel: str, payload: str) -> None:
        await conn.execute("SELECT pg_notify(%b, %b)", (channel, payload))

    async def point_select(self, conn: Any, seq: int) -> str:
        cur = await conn.execute(self.sql(POINT), (seq,))
        return (await cur.fetchone())[0]


def make_driver(name: str) -> Driver:
    return {"asyncpg": Asyncpg, "psycopg": Psycopg}[name]()


async def write_load(driver: Driver, url: str, batch: int, style: str, seconds: float) -> Stats:
    """``WRITERS`` group-committing writers for ``seconds``; a listener times each NOTIFY."""
    conns = [await driver.connect(url) for _ in range(WRITERS)]
    started: dict[str, float] = {}
    heard_at: dict[str, float] = {}
    stats = Stats()

    def heard(payload: str) -> None:
        heard_at[payload] = time.perf_counter()

    close_listener = await driver.listen(url, "changes", heard)
    rows = [(f"req-{i}", body(i)) for i in range(batch)]
    deadline = time.perf_counter() + seconds

    async def writer(conn: Any) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            head = await driver.write_batch(conn, rows, style)
            stats.txn_ms.append((time.perf_counter() - t0) * 1000)
            # The NOTIFY leaves at COMMIT, at the end of the transaction; timing it from the
            # transaction's start is an upper bound that both drivers share.
            started[str(head)] = t0
            stats.rows += batch

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer(c) for c in conns))
    stats.seconds = time.perf_counter() - t0
    stats.cpu = time.process_time() - cpu0
    await asyncio.wait_for(drained(heard_at, started), 5)
    stats.notify_ms = [(heard_at[h] - t) * 1000 for h, t in started.items()]
    await close_listener()
    for conn in conns:
        await driver.close(conn)
    return stats


async def drained(heard_at: dict[str, float], started: dict[str, float]) -> None:
    """Until the listener has heard every head (notifications follow commits closely)."""
    while not started.keys() <= heard_at.keys():
        await asyncio.sleep(0.005)


async def listen_latency(driver: Driver, url: str, count: int) -> list[float]:
    """Idle NOTIFY → listener round trips, one at a time (ms from send to delivery)."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[float]] = {}

    def heard(payload: str) -> None:
        fut = waiting.pop(payload, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    close_listener = await driver.listen(url, "ping", heard)
    sender = await driver.connect(url)
    samples = []
    for i in range(count):
        fut = loop.create_future()
        waiting[str(i)] = fut
        t0 = time.perf_counter()
        await driver.notify(sender, "ping", str(i))
        samples.append((await asyncio.wait_for(fut, 5) - t0) * 1000)
    await driver.close(sender)
    await close_listener()
    return samples


async def point_selects(
    driver: Driver, url: str, head: int, count: int
) -> tuple[list[float], float]:
    """``count`` single-row SELECTs by primary key on one connection: latencies (ms), CPU µs."""
    conn = await driver.connect(url)
    samples = []
    cpu0 = time.process_time()
    for _ in range(count):
        t0 = time.perf_counter()
        await driver.point_select(conn, random.randint(1, head))
        samples.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - cpu0) / count * 1e6
    await driver.close(conn)
    return samples, cpu


async def fresh_database(cluster: Any, driver: Driver) -> str:
    url = cluster.dsn(cluster.create_database())
    conn = await driver.connect(url)
    await driver.execute_script(conn, SCHEMA)
    await driver.close(conn)
    return url


async def measure(cluster: Any, seconds: float, rounds: int, pings: int) -> dict[str, Any]:
    """Every figure for every driver: ``{driver: {figure: value}}``."""
    out: dict[str, dict[str, Any]] = {name: {} for name in DRIVERS}
    for round_no in range(rounds):
        order = DRIVERS if round_no % 2 == 0 else DRIVERS[::-1]
        for batch in BATCHES:
            for style in STYLES:
                for name in order:
                    driver = make_driver(name)
                    url = await fresh_database(cluster, driver)
                    stats = await write_load(driver, url, batch, style, seconds)
                    key = f"{batch}/{style}"
                    print(
                        f"   {name:8} {key:16} {stats.rows_per_s:8,.0f} rows/s "
                        f"txn p50 {percentile(stats.txn_ms, 50):6.1f} ms "
                        f"p99 {percentile(stats.txn_ms, 99):6.1f} ms "
                        f"client CPU {stats.cpu_us_per_row:5.1f} µs/row "
                        f"notify p50 {percentile(stats.notify_ms, 50):5.1f} ms",
                        flush=True,
                    )
                    best = out[name].get(key)
                    if best is None or stats.rows_per_s > best["rows_per_s"]:
                        out[name][key] = {
                            "rows_per_s": stats.rows_per_s,
                            "txn_p50_ms": percentile(stats.txn_ms, 50),
                            "txn_p99_ms": percentile(stats.txn_ms, 99),
                            "cpu_us_per_row": stats.cpu_us_per_row,
                            "notify_load_p50_ms": percentile(stats.notify_ms, 50),
                            "notify_load_p99_ms": percentile(stats.notify_ms, 99),
                            "url": url,
                            "head": stats.rows,
                        }
        for name in order:
            driver = make_driver(name)
            url = out[name]["200/unnest"]["url"]
            pings_ms = await listen_latency(driver, url, pings)
            select_ms, select_cpu = await point_selects(
                driver, url, out[name]["200/unnest"]["head"], pings * 4
            )
            figures = {
                "listen_p50_ms": percentile(pings_ms, 50),
                "listen_p99_ms": percentile(pings_ms, 99),
                "select_p50_ms": percentile(select_ms, 50),
                "select_p99_ms": percentile(select_ms, 99),
                "select_per_s": len(select_ms) / (sum(select_ms) / 1000),
                "select_cpu_us": select_cpu,
            }
            print(f"   {name:8} " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()))
            for key, value in figures.items():
                better = min if "per_s" not in key else max
                out[name][key] = better(out[name].get(key, value), value)
    return out


def to_results(out: dict[str, Any]) -> list[Result]:
    results = []
    for batch in BATCHES:
        for style in STYLES:
            key = f"{batch}/{style}"
            for name in DRIVERS:
                fig = out[name][key]
                results.append(
                    Result(
                        "pg_driver",
                        f"{name}: rows/s, 8 writers, {batch} rows/txn ({style})",
                        fig["rows_per_s"],
                        "rows/s",
                        higher_is_better=True,
                        note=f"txn p99 {fig['txn_p99_ms']:.1f} ms",
                        extra=dict(fig),
                    )
                )
            for name in DRIVERS:
                fig = out[name][key]
                results.append(
                    Result(
                        "pg_driver",
                        f"{name}: client CPU per row, {batch} rows/txn ({style})",
                        fig["cpu_us_per_row"],
                        "µs",
                    )
                )
    for name in DRIVERS:
        fig = out[name]
        results += [
            Result("pg_driver", f"{name}: NOTIFY → listener p50, idle", fig["listen_p50_ms"], "ms"),
            Result("pg_driver", f"{name}: NOTIFY → listener p99, idle", fig["listen_p99_ms"], "ms"),
            Result(
                "pg_driver",
                f"{name}: txn start → listener p99, 20/one_statement load",
                fig["20/one_statement"]["notify_load_p99_ms"],
                "ms",
            ),
            Result("pg_driver", f"{name}: SELECT by key p50", fig["select_p50_ms"], "ms"),
            Result("pg_driver", f"{name}: SELECT by key p99", fig["select_p99_ms"], "ms"),
            Result("pg_driver", f"{name}: SELECT by key, client CPU", fig["select_cpu_us"], "µs"),
        ]
    return results


def run(quick: bool, work: Path, seconds: float | None = None, fsync: str = "on") -> list[Result]:
    """The ``make bench`` entry point: a cluster of its own, both drivers, then stop it."""
    sys.path.insert(0, str(REPO / "tests"))
    from pg_cluster import PgCluster

    for name in DRIVERS:
        __import__(name)  # both must be installed: pip install -e '.[bench]'
    cluster = PgCluster(settings={"fsync": fsync, "full_page_writes": fsync})
    try:
        cluster.init()
        out = asyncio.run(
            measure(
                cluster,
                seconds if seconds is not None else (1.0 if quick else 4.0),
                1 if quick else 2,
                100 if quick else 500,
            )
        )
    finally:
        cluster.destroy()
    return to_results(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_driver")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None, help="per write run")
    parser.add_argument("--fsync", choices=("on", "off"), default="on")
    ns = parser.parse_args()
    results = run(ns.quick, Path("."), ns.seconds, ns.fsync)
    print(table(results))


if __name__ == "__main__":
    main()
