"""Scenario 6: the TUI with 100,000 requests: first paint, filter keystroke, live change, RSS.

The real ``FrontdeskApp`` runs headless in its own process (``bench.tui_tasks frontdesk``) on a
replica already caught up with a seeded server (the one the catch-up scenario filled, when it
ran first), connected to that server; another process makes the live changes. Baseline:
Textual's ``DataTable`` with the same columns, capped at 20,000 rows (it needs tens of seconds
for 100,000), filtered by rebuilding and changed with ``update_cell``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import seed
from bench.harness import PYTHON, Result, log, run_json
from bench.servers import frontdesk_server

COUNT = 100_000
QUICK_COUNT = 10_000
BASELINE_ROWS = 20_000
QUICK_BASELINE_ROWS = 5_000
RUN_FILE = "tui-run.json"
"""The frontdesk TUI run, kept for the keypress scenario of the same bench run."""


def run_frontdesk_tui(root: Path, count: int, work: Path, quick: bool) -> dict[str, Any]:
    """Run ``bench.tui_tasks frontdesk`` against a server seeded with ``count`` requests."""
    server_dir, _ = seed.server_dir(root, count)
    with frontdesk_server(server_dir) as fd:
        replica = seed.replica_copy(root, count, fd, work / "client")
        cmd = [PYTHON, "-m", "bench.tui_tasks", "frontdesk", "--server", str(fd.http_url)]
        cmd += ["--ws-url", fd.ws_url, f"--token={fd.token}", "--data-dir", str(replica)]
        cmd += ["--changes", "10" if quick else "30", "--presses", "20" if quick else "60"]
        cmd += ["--filter-reps", "1" if quick else "3"]
        log("running the frontdesk TUI headless")
        got = run_json(cmd, timeout=400)
        log("frontdesk TUI done")
        return got


def _slowest(got: dict[str, Any]) -> str:
    """The slowest keystroke and the collector's share of it (a gen1 run lands on one, now
    and then: ``gc_big_runs`` says in which phase each ran)."""
    slowest = got.get("filter_slowest") or []
    if not slowest:
        return ""
    worst = slowest[0]
    collector = ", ".join(f"{k[:4]} {v:.0f} ms" for k, v in worst.items() if k != "ms")
    return f"; slowest {worst['ms']:.1f} ms" + (f" (collector: {collector})" if collector else "")


def run(quick: bool, work: Path) -> list[Result]:
    count = QUICK_COUNT if quick else COUNT
    root = work.parent
    got = run_frontdesk_tui(root, count, work, quick)
    (root / RUN_FILE).write_text(json.dumps({"count": count, **got}))
    rows = QUICK_BASELINE_ROWS if quick else BASELINE_ROWS
    log(f"running the DataTable baseline with {rows:,} rows")
    cmd = [PYTHON, "-m", "bench.tui_tasks", "datatable", "--rows", str(rows), "--changes", "10"]
    try:
        base = run_json(cmd, 200)
    except Exception as exc:  # a baseline that fails must not take the figures with it
        log(f"DataTable baseline failed: {exc!r}"[:200])
        base = {"failed": repr(exc)[:200]}
    floor = run_json([PYTHON, "-m", "bench.tui_tasks", "empty"], 60)["first_paint_ms"]
    base_note = f"baseline: DataTable, {rows:,} rows"
    extra = {"frontdesk": got, "datatable": base, "empty_app_first_paint_ms": floor}
    n = got.get("rows", count)
    return [
        Result(
            "tui",
            f"first paint, {n:,} rows",
            got["first_paint_ms"],
            "ms",
            baseline=base.get("first_paint_ms"),
            target_abs=300.0,
            note=(
                f"{base_note}; engine open {got['engine_open_s'] * 1000:.0f} ms; "
                f"an empty Textual app paints in {floor:.0f} ms"
            ),
            extra=extra,
        ),
        Result(
            "tui",
            "filter keystroke → repaint, p99",
            got["filter_ms"]["p99"],
            "ms",
            baseline=base.get("filter_ms", {}).get("p99"),
            target_abs=50.0,
            note=f"{base_note}; {got['filter_ms']['n']} keystrokes{_slowest(got)}",
            extra=extra,
        ),
        Result(
            "tui",
            "live change sent → on screen, p99",
            got["live_e2e_ms"]["p99"],
            "ms",
            baseline=base.get("live_ms", {}).get("p99"),
            target_abs=50.0,
            note=f"{base_note} (update_cell → paint)",
            extra=extra,
        ),
        Result(
            "tui",
            "live change in engine → on screen, p99",
            got["live_ms"]["p99"],
            "ms",
            baseline=base.get("live_ms", {}).get("p99"),
            target_abs=50.0,
            extra=extra,
        ),
        Result(
            "tui",
            f"RSS, {n:,} rows",
            got["rss_kib"] / 1024,
            "MiB",
            baseline=base["rss_kib"] / 1024 if "rss_kib" in base else None,
            target_abs=250.0,
            note=base_note,
            extra=extra,
        ),
    ]
