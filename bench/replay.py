"""Scenario 5: offline replay of 10,000 pending mutations until every one is acked.

The creates are made through the engine with no server (each durable in the outbox before it
returns); the engine is reopened against a running server and timed from ``start()`` until
nothing is pending. No raw baseline: the target is absolute.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import PYTHON, Result, run_json
from bench.servers import frontdesk_server


def run(quick: bool, work: Path) -> list[Result]:
    count = 2_000 if quick else 10_000
    with frontdesk_server(work / "server") as fd:
        cmd = [PYTHON, "-m", "bench.engine_tasks", "replay", "--server", fd.http_url]
        cmd += [f"--token={fd.token}", "--data-dir", str(work / "client"), "--count", str(count)]
        got = run_json(cmd, timeout=300)
    problems = []
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
            note="; ".join(problems),
            extra={"engine": got},
        ),
        Result(
            "replay",
            "offline creates/s (durable in the outbox)",
            got["offline_creates_per_s"],
            "/s",
            higher_is_better=True,
            extra={"engine": got},
        ),
    ]
