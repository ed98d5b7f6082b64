"""Scenario "instances": frontdesk instances on one PostgreSQL database, beside the single SQLite
server measured in the same run.

PostgreSQL is a throw-away cluster of its own (tests/pg_cluster.py) with ``fsync`` and
``full_page_writes`` on, as in production: a commit waits for its WAL to reach the disk. Each
instance is ``bench.run_frontdesk --database-url`` (what ``frontdesk serve --database-url``
does) in its own process; the load generators are ``bench.loadgen`` and
``bench.failover_load``, in theirs. Three figures:

- **acked creates/s from 8 pipelining clients** (as the ``creates`` scenario): the single SQLite
  server, one PostgreSQL-backed instance, and two instances with the clients split over them
  (each client talks to its instance directly). Every round gets a fresh server or database;
  SQLite, one instance and two instances alternate, and the rounds of each are pooled. Beside
  each: CPU per acked create of each instance process and of PostgreSQL (the postmaster and all
  its backends), read from /proc before and after, and the mean batch (creates per commit, from
  the ``counters`` row).
- **change delivery p50/p99 at 200 listeners** (as the ``latency`` scenario, one clock): the
  listeners spread over two instances, the sender on the first, so half the deliveries cross
  instances (commit → NOTIFY → the other instance reads the log → its listeners); beside the
  single SQLite server, runs alternating.
- **failover**: three instances behind the real HAProxy (docs/haproxy.cfg.example with its
  shipped health-check timing), writers and listeners connected through it; one instance is
  SIGKILLed mid-load; the time from the kill until every client it served is synced on another
  instance and every mutation it had unanswered is answered (the clients reconnect and resend
  as the offline engine does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    PYTHON,
    REPO,
    Result,
    child,
    cpu_seconds,
    family_cpu_seconds,
    log,
    machine_busy_seconds,
    percentile,
    run_json,
)
from bench.servers import Running, get_token, start_frontdesk

CLIENTS = 8
INFLIGHT = 256
LISTENERS = 200
FAILOVER_INSTANCES = 3
FAILOVER_WRITERS = 4
FAILOVER_LISTENERS = 44
FAILOVER_PACE = 0.02
"""Seconds between one writer's creates: 200 creates/s in all, each delivered to every client.
More would measure the load generator (one process reading every change for every client)."""
CREATES_TARGET = 5_000.0
DELIVERY_RATIO = 2.0
FAILOVER_TARGET_S = 3.0


def _tests_on_path() -> None:
    """The PostgreSQL cluster and HAProxy helpers live with the tests that use them most."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


@contextlib.contextmanager
def pg_cluster() -> Iterator[Any]:
    """A throw-away PostgreSQL cluster with ``fsync`` on: figures must be honest."""
    _tests_on_path()
    from pg_cluster import PgCluster

    cluster = PgCluster(settings={"fsync": "on", "full_page_writes": "on"})
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def postmaster_pid(cluster: Any) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class Service:
    """One service under test: its server processes and (on PostgreSQL) its database."""

    label: str
    servers: list[Running]
    cluster: Any = None
    database: str | None = None

    def counters(self) -> tuple[int, int]:
        """(commits, head seq) from the shared ``counters`` row; (0, 0) on SQLite."""
        if self.database is None:
            return 0, 0
        commits, head = self.cluster.sql(
            "SELECT commits, head FROM counters WHERE id = 1", self.database
        ).split("|")
        return int(commits), int(head)

    def stop(self) -> None:
        for server in self.servers:
            server.child.stop(timeout=60)


@contextlib.contextmanager
def service(label: str, work: Path, cluster: Any = None, instances: int = 1) -> Iterator[Service]:
    """SQLite (``cluster`` None: one server) or ``instances`` on a fresh PostgreSQL database."""
    database = cluster.create_database() if cluster is not None else None
    url = cluster.dsn(database) if cluster is not None else None
    got = Service(label, [], cluster, database)
    try:
        for i in range(instances):
            got.servers.append(start_frontdesk(work / f"{label}-{i}", url))
        yield got
    except BaseException:
        for server in got.servers:  # what the servers said is the first thing to read
            server.child.proc.terminate()
            log(f"{label}: server {server.pid} said: {server.child.stderr_tail()[-1500:]}")
        raise
    finally:
        got.stop()
        if database is not None:
            cluster.drop_database(database)


# creates ---------------------------------------------------------------------------------------


def creates_round(svc: Service, count: int, duration: float) -> dict[str, Any]:
    """8 pipelining clients spread over the service's servers; CPU of each process meanwhile."""
    pids = [s.pid for s in svc.servers]
    pg_pid = postmaster_pid(svc.cluster) if svc.cluster is not None else None
    commits0, head0 = svc.counters()
    cpu0 = [cpu_seconds(pid) for pid in pids]
    pg0 = family_cpu_seconds(pg_pid) if pg_pid else 0.0
    busy0, t0 = machine_busy_seconds(), time.perf_counter()
    cmd = [PYTHON, "-m", "bench.loadgen", "creates", "--clients", str(CLIENTS)]
    cmd += ["--inflight", str(INFLIGHT), "--count", str(count), "--duration", str(duration)]
    cmd += [f"--url={s.ws_url}" for s in svc.servers] + [f"--token={svc.servers[0].token}"]
    got = run_json(cmd, timeout=duration + 120)
    wall = time.perf_counter() - t0
    got["instance_cpu_s"] = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
    got["pg_cpu_s"] = family_cpu_seconds(pg_pid) - pg0 if pg_pid else 0.0
    got["busy_s"] = machine_busy_seconds() - busy0
    got["wall"] = wall
    commits1, head1 = svc.counters()
    got["commits"], got["logged"] = commits1 - commits0, head1 - head0
    return got


def pooled_creates(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds added up: creates/s over all rounds, CPU per acked create over all rounds."""
    elapsed = sum(r["elapsed"] for r in runs)
    acked = sum(r["acked"] for r in runs)
    wall = sum(r["wall"] for r in runs)
    instances = len(runs[0]["instance_cpu_s"])
    by_instance = [sum(r["acked_by_peer"][i] for r in runs) for i in range(instances)]
    cpu = [sum(r["instance_cpu_s"][i] for r in runs) for i in range(instances)]
    pg_cpu = sum(r["pg_cpu_s"] for r in runs)
    loadgen_cpu = sum(r["cpu_s"] for r in runs)
    commits = sum(r["commits"] for r in runs)
    return {
        "acked": acked,
        "rejected": sum(r["rejected"] for r in runs),
        "first_problem": next((r["first_problem"] for r in runs if r["first_problem"]), None),
        "per_second": acked / elapsed,
        "rounds_per_second": [r["per_second"] for r in runs],
        "acked_by_instance": by_instance,
        "instance_cpu_s": cpu,
        "instance_us_per_own_create": [
            c / max(1, a) * 1e6 for c, a in zip(cpu, by_instance, strict=True)
        ],
        "instance_us_per_create": [c / max(1, acked) * 1e6 for c in cpu],
        "pg_us_per_create": pg_cpu / max(1, acked) * 1e6,
        "loadgen_us_per_create": loadgen_cpu / max(1, acked) * 1e6,
        "instance_cores": [c / wall for c in cpu],
        "pg_cores": pg_cpu / wall,
        "loadgen_cores": loadgen_cpu / wall,
        "machine_cores": sum(r["busy_s"] for r in runs) / wall,
        "commits": commits,
        "creates_per_commit": acked / commits if commits else None,
        "commits_per_second": commits / elapsed,
        "rounds": len(runs),
    }


def measure_creates(quick: bool, work: Path, cluster: Any) -> dict[str, dict[str, Any]]:
    duration = 3.0 if quick else 6.0
    rounds = 1 if quick else 2
    count = 30_000 if quick else 100_000
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "pg1": [], "pg2": []}
    for i in range(rounds):
        for label, on_pg, instances in (("sqlite", False, 1), ("pg1", True, 1), ("pg2", True, 2)):
            with service(f"creates-{label}-{i}", work, cluster if on_pg else None, instances) as s:
                got = creates_round(s, count, duration)
            runs[label].append(got)
            log(
                f"creates round {i + 1}/{rounds} {label}: {got['per_second']:,.0f}/s, "
                f"{got['commits']} commits"
            )
    return {label: pooled_creates(r) for label, r in runs.items()}


def creates_results(got: dict[str, dict[str, Any]]) -> list[Result]:
    sqlite, pg1, pg2 = got["sqlite"], got["pg1"], got["pg2"]
    base_us = sqlite["instance_us_per_create"][0]
    own1 = pg1["instance_us_per_own_create"][0]
    # Each of two instances does its own creates and follows the other's (reads them from the
    # log, parses them, fans them out): cpu_i = own_i * c_own + other_i * c_follow. c_own is
    # taken from the one-instance runs, which follow nobody.
    follow = []
    for i in range(2):
        own, other = pg2["acked_by_instance"][i], pg2["acked_by_instance"][1 - i]
        if other:
            follow.append((pg2["instance_cpu_s"][i] - own * own1 / 1e6) / other * 1e6)
    follow_us = sum(follow) / len(follow) if follow else None

    def cores(p: dict[str, Any]) -> str:
        inst = " + ".join(f"{c:.2f}" for c in p["instance_cores"])
        extra = f", PostgreSQL {p['pg_cores']:.2f}" if p["pg_cores"] else ""
        return (
            f"cores busy: instance {inst}{extra}, load generator {p['loadgen_cores']:.2f}, "
            f"whole machine {p['machine_cores']:.2f} of 2"
        )

    def batch(p: dict[str, Any]) -> str:
        if not p["creates_per_commit"]:
            return ""
        return (
            f"; {p['creates_per_commit']:.0f} creates per commit, "
            f"{p['commits_per_second']:.0f} commits/s"
        )

    def problems(p: dict[str, Any]) -> str:
        return f"; {p['rejected']} rejected: {p['first_problem']}" if p["rejected"] else ""

    extra = {"sqlite": sqlite, "pg1": pg1, "pg2": pg2, "follow_us": follow_us}
    split = " / ".join(f"{a:,}" for a in pg2["acked_by_instance"])
    return [
        Result(
            "instances",
            "acked creates/s, 8 clients, 1 PostgreSQL instance",
            pg1["per_second"] if pg1["acked"] else None,
            "/s",
            baseline=sqlite["per_second"],
            higher_is_better=True,
            target_abs=CREATES_TARGET,
            note=f"baseline: the single SQLite server; {cores(pg1)}{batch(pg1)}{problems(pg1)}"
            f" (SQLite run: {cores(sqlite)})",
            extra=extra,
        ),
        Result(
            "instances",
            "acked creates/s, 8 clients, 2 PostgreSQL instances",
            pg2["per_second"] if pg2["acked"] else None,
            "/s",
            baseline=sqlite["per_second"],
            higher_is_better=True,
            note=f"acked per instance {split}; {cores(pg2)}{batch(pg2)}{problems(pg2)}",
        ),
        Result(
            "instances",
            "server CPU per create, 1 PostgreSQL instance",
            own1,
            "µs",
            baseline=base_us,
            note="baseline: the single SQLite server's CPU per create (same clients, same run)",
        ),
        Result(
            "instances",
            "PostgreSQL CPU per create, 1 instance",
            pg1["pg_us_per_create"],
            "µs",
            note="the postmaster and every backend of the cluster, from /proc",
        ),
        *(
            Result(
                "instances",
                f"instance {i + 1} of 2: CPU per create of its own",
                pg2["instance_us_per_own_create"][i],
                "µs",
                baseline=own1,
                note=(
                    f"baseline: one instance alone; per create of the service "
                    f"{pg2['instance_us_per_create'][i]:.0f} µs"
                    + (
                        f"; following one create of the other instance costs about "
                        f"{follow_us:.0f} µs"
                        if follow_us is not None and i == 0
                        else ""
                    )
                ),
            )
            for i in range(2)
        ),
        Result(
            "instances",
            "PostgreSQL CPU per create, 2 instances",
            pg2["pg_us_per_create"],
            "µs",
            baseline=pg1["pg_us_per_create"],
            note="baseline: PostgreSQL's CPU per create with one instance",
        ),
    ]


# delivery latency ------------------------------------------------------------------------------


def latency_round(servers: list[Running], messages: int) -> dict[str, Any]:
    cmd = [PYTHON, "-m", "bench.loadgen", "latency", "--listeners", str(LISTENERS)]
    cmd += ["--messages", str(messages), "--duration", "40", f"--token={servers[0].token}"]
    cmd += [f"--url={s.ws_url}" for s in servers]
    return run_json(cmd, timeout=180)


def pooled_latency(runs: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [x for r in runs for x in r["samples_ms"]]
    far = [x for r in runs for x in r["far_samples_ms"]]
    near = sorted(samples)
    for x in far:  # the listeners on the sender's own instance: all samples but the far ones
        near.remove(x)

    def pct(values: list[float], p: float) -> float | None:
        return percentile(values, p) if values else None

    return {
        "samples": len(samples),
        "missing": sum(r["missing"] for r in runs),
        "p50_ms": pct(samples, 50),
        "p99_ms": pct(samples, 99),
        "max_ms": max(samples) if samples else None,
        "far_p50_ms": pct(far, 50),
        "far_p99_ms": pct(far, 99),
        "near_p50_ms": pct(near, 50),
        "near_p99_ms": pct(near, 99),
        "rounds_p99_ms": [r["p99_ms"] for r in runs],
    }


def measure_latency(quick: bool, work: Path, cluster: Any) -> dict[str, dict[str, Any]]:
    rounds = 1 if quick else 3
    messages = 30 if quick else 70
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "pg2": []}
    with (
        service("latency-sqlite", work) as sqlite,
        service("latency-pg2", work, cluster, instances=2) as pg2,
    ):
        for i in range(rounds):
            runs["sqlite"].append(latency_round(sqlite.servers, messages))
            runs["pg2"].append(latency_round(pg2.servers, messages))
            log(
                f"latency round {i + 1}/{rounds}: p99 SQLite {runs['sqlite'][-1]['p99_ms']:.1f}"
                f" ms, 2 instances {runs['pg2'][-1]['p99_ms']:.1f} ms"
            )
    return {label: pooled_latency(r) for label, r in runs.items()}


def latency_results(got: dict[str, dict[str, Any]]) -> list[Result]:
    base, pg2 = got["sqlite"], got["pg2"]
    note = (
        f"listeners on the sender's instance p50 {pg2['near_p50_ms']:.1f} / p99 "
        f"{pg2['near_p99_ms']:.1f} ms, on the other instance p50 {pg2['far_p50_ms']:.1f} / p99 "
        f"{pg2['far_p99_ms']:.1f} ms; baseline: the single SQLite server"
    )
    if pg2["missing"] or base["missing"]:
        note += f"; frames missing: {pg2['missing']} (SQLite {base['missing']})"
    extra = {"sqlite": base, "pg2": pg2}
    return [
        Result(
            "instances",
            f"delivery p50 @ {LISTENERS} listeners over 2 instances",
            pg2["p50_ms"],
            "ms",
            base["p50_ms"],
            extra=extra,
        ),
        Result(
            "instances",
            f"delivery p99 @ {LISTENERS} listeners over 2 instances",
            pg2["p99_ms"],
            "ms",
            base["p99_ms"],
            target_ratio=DELIVERY_RATIO,
            note=note,
        ),
    ]


# failover --------------------------------------------------------------------------------------


def failover_round(work: Path, cluster: Any, quick: bool, label: str) -> dict[str, Any]:
    """Three instances behind HAProxy, clients through it; SIGKILL the first mid-load."""
    _tests_on_path()
    from haproxy import HAProxy

    with service(label, work, cluster, instances=FAILOVER_INSTANCES) as svc:
        ports = [int(str(s.http_url).rsplit(":", 1)[1]) for s in svc.servers]
        # The shipped health-check timing (every 2 s, out after 2 failures): the failover
        # figure must not lean on checks faster than an operator runs.
        balancer = HAProxy([("127.0.0.1", p) for p in ports], inter="2s", fall=2, rise=2)
        balancer.start()
        try:

            async def all_up() -> None:
                for name in balancer.names:
                    await balancer.wait_state(name, "UP", timeout=20)

            asyncio.run(all_up())
            cmd = [PYTHON, "-m", "bench.failover_load", "--url", balancer.ws_url]
            cmd += ["--token", get_token(balancer.url), "--writers", str(FAILOVER_WRITERS)]
            cmd += ["--listeners", str(FAILOVER_LISTENERS // (2 if quick else 1))]
            cmd += ["--seconds", "4" if quick else "6", "--pace", str(FAILOVER_PACE)]
            with child(cmd, stdin=subprocess.PIPE) as clients:
                clients.wait_line("ready", 120)
                time.sleep(1.0)  # a second of load before the kill
                killed_at = time.monotonic()
                os.kill(svc.servers[0].pid, signal.SIGKILL)
                clients.send(f"killed {killed_at}")
                got: dict[str, Any] = json.loads(clients.wait_line("{", 120))
        finally:
            balancer.stop()
    slowest = [x for x in (*got["synced_s"], *got["resent_answered_s"]) if x is not None]
    got["resumed_s"] = max(slowest) if slowest else None
    got["synced_max_s"] = max((x for x in got["synced_s"] if x is not None), default=None)
    log(
        f"failover {label}: {got['cut']} of {got['clients']} clients cut, all resumed after "
        f"{got['resumed_s'] or 0:.2f} s ({got['resent']} mutations resent)"
    )
    return got


def failover_results(runs: list[dict[str, Any]]) -> list[Result]:
    resumed = [r["resumed_s"] for r in runs]
    synced = [r["synced_max_s"] for r in runs]
    complete = all(x is not None for x in resumed) and all(r["cut"] for r in runs)
    per_round = ", ".join(f"{x:.2f}" if x is not None else "—" for x in resumed)
    r0 = runs[0]
    note = (
        f"slowest of {len(runs)} kill{'s' if len(runs) > 1 else ''} (each: {per_round} s); "
        f"{FAILOVER_INSTANCES} instances behind HAProxy (shipped config: leastconn, checks every "
        f"2 s); per kill {r0['cut']} of {r0['clients']} clients cut ({r0['cut_writers']} writers, "
        f"{sum(r['resent'] for r in runs)} mutations resent in all); "
        f"{sum(r['acked'] for r in runs):,} creates acked, {sum(r['rejected'] for r in runs)} "
        "rejected; every client had every change at the end"
    )
    return [
        Result(
            "instances",
            "failover: SIGKILL → every cut client synced, its resends answered",
            max(x for x in resumed if x is not None) if complete else None,
            "s",
            target_abs=FAILOVER_TARGET_S,
            note=note if complete else "a kill cut no client, or one did not resume",
            extra={"rounds": runs},
        ),
        Result(
            "instances",
            "failover: SIGKILL → every cut client synced on another instance",
            max(x for x in synced if x is not None) if complete else None,
            "s",
        ),
    ]


def run(quick: bool, work: Path) -> list[Result]:
    """One cluster for the whole scenario, a fresh database per service."""
    work.mkdir(parents=True, exist_ok=True)
    with pg_cluster() as cluster:
        log(f"PostgreSQL cluster up on port {cluster.port} (fsync on)")
        results = creates_results(measure_creates(quick, work, cluster))
        results += latency_results(measure_latency(quick, work, cluster))
        kills = 1 if quick else 3
        results += failover_results(
            [failover_round(work, cluster, quick, f"failover-{i}") for i in range(kills)]
        )
    return results
