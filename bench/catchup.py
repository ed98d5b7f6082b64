"""Scenario 4: catch-up of 100,000 changes into an empty client replica.

The server is seeded through its own front door (8 pipelining clients sending creates), then
a fresh offline engine in another process connects with an empty replica and is timed until
its view holds every row. Baseline: plain sqlite3 ``executemany`` of the same rows.
"""

from __future__ import annotations

from pathlib import Path

from bench.creates import _load as seed
from bench.harness import PYTHON, Result, run_json
from bench.servers import frontdesk_server


def run(quick: bool, work: Path) -> list[Result]:
    count = 10_000 if quick else 100_000
    with frontdesk_server(work / "server") as fd:
        seeded = seed(fd.ws_url, fd.token, 8, count, duration=150.0)
        rows = seeded["acked"]
        cmd = [PYTHON, "-m", "bench.engine_tasks", "catchup", "--server", fd.http_url]
        cmd += ["--token", fd.token, "--data-dir", str(work / "client"), "--expect", str(rows)]
        got = run_json(cmd, timeout=300)
    note = "" if got["ok"] else f"timed out with {got['rows']} of {rows} rows"
    extra = {"seeded": seeded, "engine": got}
    return [
        Result(
            "catchup",
            f"rows/s into an empty replica ({rows:,} changes)",
            got["rows_per_s"] if got["ok"] else None,
            "rows/s",
            baseline=got["baseline"]["rows_per_s"],
            higher_is_better=True,
            target_abs=30_000.0,
            note=note,
            extra=extra,
        ),
        Result(
            "catchup",
            f"seconds for {rows:,} changes",
            got["elapsed"],
            "s",
            baseline=got["baseline"]["elapsed"],
            note=f"client RSS after: {got['client_rss_kib'] / 1024:.0f} MiB",
            extra=extra,
        ),
    ]
