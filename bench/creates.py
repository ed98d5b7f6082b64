"""Scenario 1: acked durable creates per second, from 1 and from 8 pipelining clients.

Each client keeps ``inflight`` ``create_request`` mutations unacknowledged (the offline engine's
replay does the same), so the figure is the server's write path: validate, group-commit, ack.
Baseline: ``bench.raw_servers creates``, one INSERT + COMMIT awaited per create before its ack.
Ceiling: ``bench.raw_servers answer``, which only parses each frame and answers an ack the size
of frontdesk's (no checks, no database): the most any ``websockets`` server could do here.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import PYTHON, Result, cpu_seconds, machine_busy_seconds, run_json
from bench.servers import Running, frontdesk_server, raw_server

INFLIGHT = 256
ROUNDS = 2


def pipelined_creates(
    url: str, token: str | None, clients: int, count: int, duration: float
) -> dict:
    """Acked creates from ``clients`` pipelined clients in a process of their own (the load
    generator); its JSON summary. Also how the history and seed scenarios fill a store."""
    cmd = [PYTHON, "-m", "bench.loadgen", "creates", "--url", url, "--clients", str(clients)]
    cmd += ["--inflight", str(INFLIGHT), "--count", str(count), "--duration", str(duration)]
    if token:
        cmd += [f"--token={token}"]
    return run_json(cmd, timeout=duration + 120)


def _measured_load(
    server: Running, token: str | None, clients: int, count: int, duration: float
) -> dict:
    """The load, plus how many cores the server and the load generator kept busy meanwhile."""
    cpu0, busy0, t0 = cpu_seconds(server.pid), machine_busy_seconds(), time.perf_counter()
    got = pipelined_creates(server.ws_url, token, clients, count, duration)
    server_cpu = cpu_seconds(server.pid) - cpu0
    busy = machine_busy_seconds() - busy0
    wall = time.perf_counter() - t0
    # Server and machine deltas span the load generator's whole life (start-up, connect,
    # close), so they are divided by that wall time; the load generator's own CPU is timed.
    got["server_cores"] = server_cpu / wall
    got["loadgen_cores"] = got["cpu_s"] / got["elapsed"]
    got["other_cores"] = max(0.0, busy / wall - got["server_cores"] - got["loadgen_cores"])
    return got


def _pooled(runs: list[dict]) -> dict:
    """Rounds added up: creates/s over all rounds, cores busy averaged by time."""
    elapsed = sum(r["elapsed"] for r in runs)
    acked = sum(r["acked"] for r in runs)
    return {
        "acked": acked,
        "rejected": sum(r["rejected"] for r in runs),
        "first_problem": next((r["first_problem"] for r in runs if r["first_problem"]), None),
        "elapsed": elapsed,
        "per_second": acked / elapsed,
        "rounds_per_second": [r["per_second"] for r in runs],
        "server_cores": sum(r["server_cores"] * r["elapsed"] for r in runs) / elapsed,
        "loadgen_cores": sum(r["loadgen_cores"] * r["elapsed"] for r in runs) / elapsed,
        "other_cores": sum(r["other_cores"] * r["elapsed"] for r in runs) / elapsed,
    }


def run(quick: bool, work: Path) -> list[Result]:
    """Raw and frontdesk alternate (``ROUNDS`` each, fresh servers) so background load on
    the machine hits both alike; the rounds of each side are pooled."""
    duration = 3.0 if quick else 6.0
    rounds = 1 if quick else ROUNDS
    results = []
    for clients, count in ((1, 4_000 if quick else 20_000), (8, 16_000 if quick else 80_000)):
        raw_runs, fd_runs = [], []
        for i in range(rounds):
            with raw_server("creates", work / f"raw-creates-{clients}-{i}") as raw:
                raw_runs.append(_measured_load(raw, None, clients, count, duration))
            with frontdesk_server(work / f"fd-creates-{clients}-{i}") as fd:
                fd_runs.append(_measured_load(fd, fd.token, clients, count, duration))
        with raw_server("answer") as answer:
            ceiling = _measured_load(answer, None, clients, count, duration)
        base, got = _pooled(raw_runs), _pooled(fd_runs)
        problem = got.get("first_problem")
        note = (
            f"cores busy: server {got['server_cores']:.2f}, load generator "
            f"{got['loadgen_cores']:.2f}, other processes {got['other_cores']:.2f} of 2 "
            f"(raw run: server {base['server_cores']:.2f}, others {base['other_cores']:.2f}); "
            f"server CPU {got['server_cores'] / got['per_second'] * 1e6:.0f} µs per create; "
            f"ceiling (websockets + json, no checks, no database) {ceiling['per_second']:,.0f}/s"
        )
        if got["rejected"]:
            note += f"; {got['rejected']} rejected: {problem}"
        results.append(
            Result(
                "creates",
                f"acked creates/s, {clients} client{'s' if clients > 1 else ''}",
                got["per_second"] if got["acked"] else None,
                "/s",
                baseline=base["per_second"],
                higher_is_better=True,
                target_ratio=5.0,
                target_abs=10_000.0 if clients == 8 else None,
                note=note,
                extra={
                    "frontdesk": got,
                    "raw": base,
                    "ceiling": ceiling,
                    "inflight": INFLIGHT,
                    "rounds": rounds,
                },
            )
        )
    return results
