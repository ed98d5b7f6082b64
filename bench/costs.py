"""Scenario "costs": microseconds per call on the per-mutation and per-row hot paths.

The throughput scenarios say *that* a path is slow; this one says *which step* costs what,
without a profiler's distortion, beside the plain-library call doing the same job. Budgets:
10,000 creates/s leaves the server 100 µs per create on one event loop; 30,000 catch-up
rows/s leaves the client 33 µs per row. Each figure is the best of several timed batches
(``timeit`` on process CPU time, so a busy machine inflates it less), in a child process.

    python -m bench.costs        # one JSON line: {step: [frontdesk_us, baseline_us]}
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import timeit
import uuid
from pathlib import Path
from typing import Any

from bench.harness import PYTHON, REPO, Result, bench_env
from bench.loadgen import create_frame

STEPS = {
    "decode_client_frame": (
        "server: decode a create frame (wire.decode_client_frame)",
        "json.loads",
    ),
    "apply_mutation": ("server: apply a create (mutators.apply_mutation)", None),
    "server_encode": ("server: encode ack + change frames for it", "json.dumps of the same"),
    "decode_server_frame": (
        "client: decode a catch-up page, per row (wire.decode_server_frame)",
        "json.loads",
    ),
    "row_to_json": ("client: a row back to JSON for the replica (model_dump_json)", None),
}
ALERT_STEPS = {
    "alert_index_update": (
        "client: alert index, per row a catch-up page touches (AlertIndex.update)",
        "dict.get per id",
    ),
    "open_alerts": (
        "client: open alerts of 100,000 rows, 300 with alerts (Engine.open_alerts)",
        "a scan of every row",
    ),
}


def _best_us(fn, number: int) -> float:
    """CPU µs per call (process time, so other processes taking the cores do not count)."""
    runs = timeit.repeat(fn, number=number, repeat=5, timer=time.process_time)
    return min(runs) / number * 1e6


def measure() -> dict[str, Any]:
    from protocol.models import Role, utcnow
    from protocol.mutators import apply_mutation
    from protocol.rules import Actor
    from protocol.wire import decode_client_frame, decode_server_frame, dumps

    frame_text = create_frame(str(uuid.uuid4()), 7)
    frame = json.loads(frame_text)
    args = frame["args"]
    actor = Actor("bench", Role.MANAGER)
    now = utcnow()
    row = apply_mutation("create_request", args, None, actor, now)
    assert not isinstance(row, Exception) and hasattr(row, "to_wire"), row
    wire = row.to_wire()

    def encode() -> None:
        dumps({"type": "ack", "n": 7, "seq": 1, "request": row.to_wire()})
        dumps({"type": "change", "seq": 1, "request": row.to_wire(), "by": {"user": "bench"}})

    wire_copy = dict(wire)

    def encode_plain() -> None:
        json.dumps({"type": "ack", "n": 7, "seq": 1, "request": wire_copy})
        json.dumps({"type": "change", "seq": 1, "request": wire_copy, "by": {"user": "bench"}})

    page_rows = 1000
    page = dumps(
        {
            "type": "changes",
            "changes": [{"seq": i, "request": wire} for i in range(1, page_rows + 1)],
            "more": False,
        }
    )
    return {
        "decode_client_frame": [
            _best_us(lambda: decode_client_frame(frame_text), 2000),
            _best_us(lambda: json.loads(frame_text), 2000),
        ],
        "apply_mutation": [
            _best_us(lambda: apply_mutation("create_request", args, None, actor, now), 2000),
            None,
        ],
        "server_encode": [_best_us(encode, 2000), _best_us(encode_plain, 2000)],
        "decode_server_frame": [
            _best_us(lambda: decode_server_frame(page), 3) / page_rows,
            _best_us(lambda: json.loads(page), 3) / page_rows,
        ],
        "row_to_json": [_best_us(row.model_dump_json, 5000), None],
        **alert_costs(row),
    }


def alert_costs(row: Any) -> dict[str, list[float | None]]:
    """The alert index against what it saves: 100,000 view rows, 300 of them with alerts (50
    still open); a catch-up page of 1,000 rows without alerts, and the open list."""
    from offline.alerts import AlertIndex
    from protocol.alerts import open_alerts, raised

    now = row.created_at
    alert = raised("urgent", now)
    done = alert.model_copy(update={"acknowledged_by": "bench", "acknowledged_at": now})
    rows = {}
    for i in range(100_000):
        rid = str(uuid.UUID(int=i + 1, version=4))
        alerts = (alert,) if i % 2000 == 0 else (done,) if i % 400 == 0 else ()
        rows[rid] = row.model_copy(update={"id": rid, "alerts": alerts})
    index = AlertIndex(rows)
    page = list(rows)[:1000]
    get = rows.get

    def plain_lookups() -> None:
        for rid in page:
            get(rid)

    def scan() -> list[Any]:
        return [(r, i, a) for r in rows.values() if r.alerts for i, a in open_alerts(r)]

    return {
        "alert_index_update": [
            _best_us(lambda: index.update(page), 50) / len(page),
            _best_us(plain_lookups, 50) / len(page),
        ],
        "open_alerts": [_best_us(index.open_alerts, 200), _best_us(scan, 5)],
    }


def run(quick: bool, work: Path) -> list[Result]:
    done = subprocess.run(
        [PYTHON, "-m", "bench.costs"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=bench_env(),
        check=True,
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    results = []
    for step, (figure, baseline_name) in STEPS.items():
        value, base = got[step]
        results.append(
            Result(
                "costs",
                figure,
                value,
                "µs",
                baseline=base,
                note=f"baseline: {baseline_name}" if baseline_name else "",
            )
        )
    server = got["decode_client_frame"][0] + got["apply_mutation"][0] + got["server_encode"][0]
    client = got["decode_server_frame"][0] + got["row_to_json"][0]
    results.append(
        Result(
            "costs",
            "server: the three steps above, per create",
            server,
            "µs",
            target_abs=100.0,
            note="10,000 creates/s on one event loop allows 100 µs",
        )
    )
    results.append(
        Result(
            "costs",
            "client: the two steps above, per catch-up row",
            client,
            "µs",
            target_abs=33.0,
            note="30,000 rows/s allows 33 µs a row",
        )
    )
    for step, (figure, baseline_name) in ALERT_STEPS.items():
        value, base = got[step]
        results.append(Result("costs", figure, value, "µs", baseline=base, note=baseline_name))
    return results


if __name__ == "__main__":
    print(json.dumps(measure()), flush=True)
    sys.exit(0)
