"""Scenario 2: change delivery latency p50/p99 at 50, 200 and 500 listeners.

Listeners and the one sender live in one load-generator process, so send and receipt are read
from one clock. frontdesk path: the sender's ``mutate`` (create) → validate, commit, ack, fan
out → each listener's ``change`` frame. Baseline: a raw ``websockets`` server that
``broadcast()``s each frame it gets (same frame size, no validation, no commit).
Messages go one at a time (the next once every listener has the last), so this is delivery
latency, not a queue the benchmark built.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import PYTHON, Result, run_json
from bench.servers import frontdesk_server, raw_server

LEVELS = (50, 200, 500)


def _load(url: str, token: str | None, listeners: int, messages: int) -> dict:
    cmd = [PYTHON, "-m", "bench.loadgen", "latency", "--url", url, "--listeners", str(listeners)]
    cmd += ["--messages", str(messages), "--duration", "40"]
    if token:
        cmd += [f"--token={token}"]
    return run_json(cmd, timeout=180)


def run(quick: bool, work: Path) -> list[Result]:
    levels = (50, 200) if quick else LEVELS
    messages = 30 if quick else 200
    raw_runs, fd_runs = {}, {}
    with raw_server("broadcast") as raw:
        for n in levels:
            raw_runs[n] = _load(raw.ws_url, None, n, messages)
    with frontdesk_server(work / "fd-latency") as fd:
        for n in levels:
            fd_runs[n] = _load(fd.ws_url, fd.token, n, messages)
    results = []
    for n in levels:
        got, base = fd_runs[n], raw_runs[n]
        note = f"{got['missing']} frames missing" if got["missing"] else ""
        extra = {"frontdesk": got, "raw": base}
        results.append(
            Result(
                "latency",
                f"p50 @ {n} listeners",
                got["p50_ms"],
                "ms",
                base["p50_ms"],
                note=note,
                extra=extra,
            )
        )
        results.append(
            Result(
                "latency",
                f"p99 @ {n} listeners",
                got["p99_ms"],
                "ms",
                base["p99_ms"],
                target_ratio=1.2,
                note=note,
                extra=extra,
            )
        )
    return results
