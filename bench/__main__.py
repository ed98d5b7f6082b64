"""``python -m bench [SCENARIO ...] [--quick]``: run scenarios, print one table, write JSON.

Each scenario is a module with ``run(quick, work) -> list[Result]``; it starts its servers and
load generators as child processes and stops them before it returns. A scenario that fails
(or whose component has not landed yet) becomes a row saying why, and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    PROFILE_ENV,
    REPO,
    RESULTS_DIR,
    Result,
    notes,
    raise_nofile,
    table,
    write_results,
)

SCENARIOS = {
    "creates": "bench.creates",
    "latency": "bench.latency",
    "memory": "bench.memory",
    "catchup": "bench.catchup",
    "replay": "bench.replay",
    "tui": "bench.tui",
    "keypress": "bench.keypress",
    "costs": "bench.costs",
    "pg_driver": "bench.pg_driver",
    "triage": "bench.triage",
    "instances": "bench.instances",
    "history": "bench.history",
    "shift_report": "bench.shift_report",
}
ON_REQUEST = {"pg_driver"}
"""Scenarios that run only when named: a one-off comparison, not a figure that moves."""


def machine() -> dict[str, str]:
    """What the figures were measured on (pasted into docs/PERFORMANCE.md)."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(SCENARIOS)} (all but {', '.join(sorted(ON_REQUEST))})",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"run servers, engines and TUIs under cProfile; summaries in {RESULTS_DIR}/profiles",
    )
    ns = parser.parse_args(argv)
    names = ns.scenarios or [name for name in SCENARIOS if name not in ON_REQUEST]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    raise_nofile()
    if ns.profile:
        os.environ[PROFILE_ENV] = str(RESULTS_DIR / "profiles")
    meta = {**machine(), "quick": ns.quick, "scenarios": names}
    print(
        f"frontdesk bench: {meta['date']}, commit {meta['commit']}, {meta['nproc']} cores, "
        f"{meta['cpu']}, Python {meta['python']}{' (quick)' if ns.quick else ''}",
        flush=True,
    )
    results: list[Result] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        for name in names:
            t0 = time.monotonic()
            print(f"== {name} ...", flush=True)
            try:
                module = importlib.import_module(SCENARIOS[name])
                got = module.run(ns.quick, Path(tmp) / name)
            except Exception as exc:
                traceback.print_exc(limit=3)
                got = [Result(name, "(scenario)", None, "", note=f"error: {exc!r}"[:160])]
            results += got
            print(f"   {name} took {time.monotonic() - t0:.1f}s", flush=True)
            print(table(got), flush=True)
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    write_results(results, meta, ns.out)
    print(f"\nAll scenarios ({meta['seconds']}s, load average now {meta['loadavg_end']}):")
    print(table(results))
    print(notes(results))
    print(f"results: {ns.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
