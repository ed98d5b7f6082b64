"""Scenario 1: acked durable creates per second, from 1 and from 8 pipelining clients.

Each client keeps ``inflight`` ``create_request`` mutations unacknowledged (the offline engine's
replay does the same), so the figure is the server's write path: validate, group-commit, ack.
Baseline: ``bench.raw_servers creates``, one INSERT + COMMIT awaited per create before its ack.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import PYTHON, Result, cpu_seconds, run_json
from bench.servers import Running, frontdesk_server, raw_server

INFLIGHT = 256


def _load(url: str, token: str | None, clients: int, count: int, duration: float) -> dict:
    cmd = [PYTHON, "-m", "bench.loadgen", "creates", "--url", url, "--clients", str(clients)]
    cmd += ["--inflight", str(INFLIGHT), "--count", str(count), "--duration", str(duration)]
    if token:
        cmd += [f"--token={token}"]
    return run_json(cmd, timeout=duration + 120)


def _measured_load(
    server: Running, token: str | None, clients: int, count: int, duration: float
) -> dict:
    """The load, plus how many cores the server and the load generator kept busy meanwhile."""
    cpu0 = cpu_seconds(server.pid)
    got = _load(server.ws_url, token, clients, count, duration)
    server_cpu = cpu_seconds(server.pid) - cpu0
    # The server's CPU delta also covers the load generator's connect and close (small).
    got["server_cores"] = server_cpu / got["elapsed"]
    got["loadgen_cores"] = got["cpu_s"] / got["elapsed"]
    return got


def run(quick: bool, work: Path) -> list[Result]:
    duration = 4.0 if quick else 12.0
    results = []
    for clients, count in ((1, 4_000 if quick else 30_000), (8, 16_000 if quick else 120_000)):
        with raw_server("creates", work / f"raw-creates-{clients}") as raw:
            base = _measured_load(raw, None, clients, count, duration)
        with frontdesk_server(work / f"fd-creates-{clients}") as fd:
            got = _measured_load(fd, fd.token, clients, count, duration)
        problem = got.get("first_problem")
        note = (
            f"cores busy: server {got['server_cores']:.2f}, load generator "
            f"{got['loadgen_cores']:.2f} (raw server {base['server_cores']:.2f})"
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
                extra={"frontdesk": got, "raw": base, "inflight": INFLIGHT},
            )
        )
    return results
