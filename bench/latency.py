"""Scenario 2: change delivery latency p50/p99 at 50, 200 and 500 listeners.

Listeners and the one sender live in one load-generator process, so send and receipt are read
from one clock. frontdesk path: the sender's ``mutate`` (create) → validate, commit, ack, fan
out → each listener's ``change`` frame. Baseline: a raw ``websockets`` server that
``broadcast()``s each frame it gets (same frame size, no validation, no commit).
Messages go one at a time (the next once every listener has the last), so this is delivery
latency, not a queue the benchmark built. Receipt is stamped when the bytes come off each
listener's socket (``loadgen.StampedConnection``).

Both servers run side by side and the runs alternate (raw, frontdesk, raw, frontdesk, ...), and
the samples of each side are pooled: background load on the machine then hits both alike.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import PYTHON, Result, percentile, run_json
from bench.servers import frontdesk_server, raw_server

LEVELS = (50, 200, 500)
ROUNDS = 3


def _load(url: str, token: str | None, listeners: int, messages: int) -> dict:
    cmd = [PYTHON, "-m", "bench.loadgen", "latency", "--url", url, "--listeners", str(listeners)]
    cmd += ["--messages", str(messages), "--duration", "40"]
    if token:
        cmd += [f"--token={token}"]
    return run_json(cmd, timeout=180)


def _pooled(runs: list[dict]) -> dict:
    samples = [x for r in runs for x in r["samples_ms"]]
    tasks = [x for r in runs for x in r["task_samples_ms"]]
    return {
        "samples": len(samples),
        "missing": sum(r["missing"] for r in runs),
        "p50_ms": percentile(samples, 50) if samples else None,
        "p99_ms": percentile(samples, 99) if samples else None,
        "max_ms": max(samples) if samples else None,
        "task_p50_ms": percentile(tasks, 50) if tasks else None,
        "task_p99_ms": percentile(tasks, 99) if tasks else None,
        "rounds_p99_ms": [r["p99_ms"] for r in runs],
    }


def run(quick: bool, work: Path) -> list[Result]:
    levels = (50, 200) if quick else LEVELS
    rounds = 1 if quick else ROUNDS
    messages = 30 if quick else 70
    results = []
    with raw_server("broadcast") as raw, frontdesk_server(work / "fd-latency") as fd:
        for n in levels:
            raw_runs, fd_runs = [], []
            for _ in range(rounds):
                raw_runs.append(_load(raw.ws_url, None, n, messages))
                fd_runs.append(_load(fd.ws_url, fd.token, n, messages))
            got, base = _pooled(fd_runs), _pooled(raw_runs)
            note = (
                f"as seen by listener tasks: p50 {got['task_p50_ms']:.1f} / "
                f"p99 {got['task_p99_ms']:.1f} ms (raw {base['task_p50_ms']:.1f} / "
                f"{base['task_p99_ms']:.1f})"
            )
            if got["missing"]:
                note += f"; {got['missing']} frames missing"
            extra = {"frontdesk": got, "raw": base, "rounds": rounds}
            results.append(
                Result(
                    "latency",
                    f"p50 @ {n} listeners",
                    got["p50_ms"],
                    "ms",
                    base["p50_ms"],
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
