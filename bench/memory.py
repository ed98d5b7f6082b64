"""Scenario 3: server memory per idle connection at 1,000 connections.

RSS of the server process (``/proc/PID/status``) after the connections are open and idle, minus
its RSS before, divided by the count. frontdesk connections are real clients: signed in, said
``hello``, caught up (empty log), subscribed to ``all``. Baseline: a raw ``websockets`` server
with compression off that just holds each connection. The load generator is its own process.
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

from bench.harness import PYTHON, Child, Result, rss_kib
from bench.servers import Running, frontdesk_server, raw_server


def _idle(server: Running, count: int) -> dict:
    cmd = [PYTHON, "-m", "bench.loadgen", "idle", "--url", server.ws_url]
    cmd += ["--connections", str(count)]
    if server.token:
        cmd += [f"--token={server.token}"]
    gen = Child(cmd, stdin=subprocess.PIPE)
    try:
        ready = json.loads(gen.wait_line("ready ", 120).split(" ", 1)[1])
        time.sleep(1.0)  # let the server finish its per-connection work (welcome, presence)
        rss = rss_kib(server.pid)
        gen.send("close")
        result = json.loads(gen.readline(60))
        return {"rss_kib": rss, **ready, **result}
    finally:
        gen.stop()


def _measure(server_cm: AbstractContextManager[Running], count: int) -> dict:
    with server_cm as server:
        _idle(server, 20)  # warm every code path (imports, caches) before the "before" reading
        time.sleep(0.5)
        before = rss_kib(server.pid)
        after = _idle(server, count)
        per_conn = (after["rss_kib"] - before) / after["connections"]
        return {"before_kib": before, **after, "per_conn_kib": per_conn}


def run(quick: bool, work: Path) -> list[Result]:
    count = 200 if quick else 1000
    base = _measure(raw_server("idle"), count)
    got = _measure(frontdesk_server(work / "fd-memory"), count)
    return [
        Result(
            "memory",
            f"server KiB per idle connection @ {count}",
            got["per_conn_kib"],
            "KiB",
            baseline=base["per_conn_kib"],
            target_abs=20.0,
            target_ratio=1.25,
            extra={"frontdesk": got, "raw": base},
        )
    ]
