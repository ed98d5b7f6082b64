"""Scenario 4: catch-up of 100,000 changes into an empty client replica.

The server is seeded through its own front door (8 pipelining clients sending creates), then
a fresh offline engine in another process connects with an empty replica and is timed until
its view holds every row. Baseline: plain sqlite3 ``executemany`` of the same rows.
"""

from __future__ import annotations

from pathlib import Path

from bench import seed
from bench.harness import Result
from bench.servers import frontdesk_server

COUNT = 100_000
QUICK_COUNT = 10_000


def run(quick: bool, work: Path) -> list[Result]:
    count = QUICK_COUNT if quick else COUNT
    root = work.parent
    server_dir, seeded = seed.server_dir(root, count)
    rows = seeded["acked"]
    with frontdesk_server(server_dir) as fd:
        got = seed.catch_up(fd, work / "client", rows)
    seed.keep_replica(root, count, work / "client", got)
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
            note=(
                f"client RSS after: {got['client_rss_kib'] / 1024:.0f} MiB; CPU per row: client "
                f"{got['client_cpu_s'] / rows * 1e6:.0f} µs, server "
                f"{got['server_cpu_s'] / rows * 1e6:.0f} µs"
            ),
            extra=extra,
        ),
    ]
