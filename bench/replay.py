"""Scenario 5: offline replay of 10,000 pending mutations until every one is acked.

The creates are made through the engine with no server (each durable in the outbox before it
returns); the engine is reopened against a running server and timed from ``start()`` until
nothing is pending. No raw baseline: the target is absolute.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import PYTHON, Result, cpu_seconds, run_json
from bench.servers import frontdesk_server


def run(quick: bool, work: Path) -> list[Result]:
    count = 2_000 if quick else 10_000
    with frontdesk_server(work / "server") as fd:
        cmd = [PYTHON, "-m", "bench.engine_tasks", "replay", "--server", fd.http_url]
        cmd += [f"--token={fd.token}", "--data-dir", str(work / "client"), "--count", str(count)]
        cpu0 = cpu_seconds(fd.pid)  # the server idles while the creates are made offline
        got = run_json(cmd, timeout=300)
        got["server_cpu_s"] = cpu_seconds(fd.pid) - cpu0
    problems = []
    cpu = (
        f"CPU per acked mutation: engine {got['client_cpu_s'] / count * 1e6:.0f} µs"
        f" ({got['client_main_cpu_s'] / count * 1e6:.0f} µs on its event loop),"
        f" server {got['server_cpu_s'] / count * 1e6:.0f} µs"
    )
    if not got["ok"]:
        problems.append("timed out")
    if got["rejected"]:
        problems.append(f"{got['rejected']} rejected")
    if got["numbered"] != count:
        problems.append(f"{got['numbered']} of {count} numbered")
    return [
        Result(
            "replay",
            f"{count:,} pending mutations to all acked",
            got["elapsed"] if got["ok"] else None,
            "s",
            target_abs=2.0 * count / 10_000,
            note="; ".join([*problems, cpu]),
            extra={"engine": got},
        ),
        Result(
            "replay",
            "offline creates/s (durable in the outbox)",
            got["offline_creates_per_s"],
            "/s",
            higher_is_better=True,
            note=f"CPU per create: {got['offline_create_cpu_s'] / count * 1e6:.0f} µs",
            extra={"engine": got},
        ),
    ]
