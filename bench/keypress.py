"""Scenario 7: key press → row on screen with the outbox durable; cold start of `frontdesk tui`.

Key press: in the headless ``FrontdeskApp`` run of scenario 6 (or a run of its own on 10,000
rows when this scenario runs alone), ``a`` acknowledges the row under the cursor: the mutation
is committed to the replica's outbox, the view updates, and the first paint showing the new
status stops the clock.

Cold start: ``python -m frontdesk tui`` in a pseudo-terminal (160 by 50) with a saved session and
a 10,000-row replica, timed from spawning the process to the first screen output holding a
request row. Imports, engine open, Textual start-up and the terminal write are all in it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from bench import seed
from bench.harness import PYTHON, REPO, Result, bench_env
from bench.run_frontdesk import PASSWORD, USER
from bench.servers import frontdesk_server
from bench.tui import RUN_FILE, run_frontdesk_tui

COLD_ROWS = 10_000
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
MARKER = b"Bench row"


def cold_start(http_url: str, data_dir: Path, timeout: float = 30.0) -> float | None:
    """Seconds from spawning ``frontdesk tui`` to a request row in its terminal output."""
    from offline.session import save_session, sign_in

    save_session(data_dir, asyncio.run(sign_in(http_url, USER, PASSWORD)))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    cmd = [PYTHON, "-m", "frontdesk", "tui", "--server", http_url, "--user", USER]
    env = bench_env(TERM="xterm-256color", COLUMNS="160", LINES="50")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--data-dir", str(data_dir)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    found = None
    try:
        while time.perf_counter() - t0 < timeout and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen = (seen + ANSI.sub(b"", chunk))[-20000:]
            if MARKER in seen:
                found = time.perf_counter() - t0
                break
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        os.close(master)
    return found


def _press_note(got: dict) -> str:
    press = got["press_ms"]
    if press["p50"] is None:
        return "no samples"
    note = f"p50 {press['p50']:.1f} ms"
    gen2 = got.get("gc", {}).get("gen2")
    if gen2 and gen2["count"]:
        note += (
            f"; {gen2['count']} full GC runs in the TUI process, longest {gen2['max_ms']:.0f} ms"
        )
    slowest = got.get("press_slowest") or []
    if slowest:
        worst = slowest[0]
        collector = ", ".join(f"{k[:4]} {v:.0f} ms" for k, v in worst.items() if k != "ms")
        note += f"; slowest {worst['ms']:.1f} ms"
        note += f" (collector: {collector})" if collector else ""
    return note


def import_seconds() -> float:
    """Seconds for a bare interpreter to import what `frontdesk tui` needs (a cold-start floor)."""
    code = "import frontdesk.cli, frontdesk.client, tui.app, offline.engine, offline.sync"
    t0 = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], check=True, cwd=REPO, env=bench_env(), timeout=60)
    return time.perf_counter() - t0


def run(quick: bool, work: Path) -> list[Result]:
    root = work.parent
    stored = root / RUN_FILE
    if stored.exists():
        got = json.loads(stored.read_text())
    else:
        got = {"count": COLD_ROWS, **run_frontdesk_tui(root, COLD_ROWS, work / "press", quick)}
    server_dir, _ = seed.server_dir(root, COLD_ROWS)
    with frontdesk_server(server_dir) as fd:
        replica = seed.replica_copy(root, COLD_ROWS, fd, work / "cold")
        cold = cold_start(str(fd.http_url), replica)
    imports = import_seconds()
    press = got["press_ms"]
    return [
        Result(
            "keypress",
            f"key → row on screen, p99 ({press['n']} presses, {got['count']:,} rows)",
            press["p99"],
            "ms",
            target_abs=33.0,
            note=_press_note(got),
            extra={"tui": got},
        ),
        Result(
            "keypress",
            f"cold start of frontdesk tui, {COLD_ROWS:,}-row replica",
            cold * 1000 if cold is not None else None,
            "ms",
            target_abs=1000.0,
            note=(
                f"starting Python and importing the app alone takes {imports * 1000:.0f} ms"
                if cold is not None
                else "no row on screen within 30 s"
            ),
        ),
    ]
