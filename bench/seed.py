"""Seeded data shared by the scenarios of one run: a server data directory holding N requests,
and a client replica caught up with it.

Seeding goes through the server's front door (8 pipelining clients sending creates), so it
needs nothing but the protocol. Within one ``python -m bench`` run the seeded directories are
kept under the run's work root and reused by later scenarios (the TUI scenarios start from the
replica the catch-up scenario filled); a scenario run alone seeds its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bench.creates import pipelined_creates
from bench.harness import PYTHON, cpu_seconds, log, run_json
from bench.servers import Running, frontdesk_server


def server_dir(root: Path, count: int) -> tuple[Path, dict[str, Any]]:
    """A server data directory with ``count`` requests (made once per run)."""
    data = root / f"seed-{count}" / "server"
    marker = data.parent / "seeded.json"
    if marker.exists():
        return data, json.loads(marker.read_text())
    log(f"seeding a server with {count:,} requests")
    with frontdesk_server(data) as fd:
        seeded = pipelined_creates(fd.ws_url, fd.token, 8, count, duration=180.0)
    log(f"seeded {seeded['acked']:,} requests in {seeded['elapsed']:.1f}s")
    marker.write_text(json.dumps(seeded))
    return data, seeded


def catch_up(fd: Running, replica_dir: Path, expect: int) -> dict[str, Any]:
    """Fill an empty replica from ``fd`` through the offline engine (timed by engine_tasks)."""
    cmd = [PYTHON, "-m", "bench.engine_tasks", "catchup", "--server", str(fd.http_url)]
    cmd += [f"--token={fd.token}", "--data-dir", str(replica_dir), "--expect", str(expect)]
    log(f"catching up a replica with {expect:,} rows")
    cpu0 = cpu_seconds(fd.pid)
    got = run_json(cmd, timeout=300)
    got["server_cpu_s"] = cpu_seconds(fd.pid) - cpu0
    log(f"caught up {got['rows']:,} rows in {got['elapsed']:.1f}s")
    return got


def replica_copy(root: Path, count: int, fd: Running, dest: Path) -> Path:
    """A copy of a replica caught up with the seeded server (catching up once per run)."""
    cached = root / f"seed-{count}" / "replica"
    marker = cached.parent / "replica.json"
    if not marker.exists():
        shutil.rmtree(cached, ignore_errors=True)
        marker.write_text(json.dumps(catch_up(fd, cached, count)))
    shutil.copytree(cached, dest, ignore=shutil.ignore_patterns("*.lock"))
    return dest


def keep_replica(root: Path, count: int, replica_dir: Path, result: dict[str, Any]) -> None:
    """Offer a freshly caught-up replica to later scenarios of this run."""
    cached = root / f"seed-{count}" / "replica"
    marker = cached.parent / "replica.json"
    if not marker.exists() and result.get("ok"):
        shutil.copytree(replica_dir, cached, ignore=shutil.ignore_patterns("*.lock"))
        marker.write_text(json.dumps(result))
