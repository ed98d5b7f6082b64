"""`make demo`: the TUI against an embedded server (a child process) with demo data.

The server runs as `python -m frontdesk serve` on a free loopback port so its work never competes
with the TUI's event loop; its database and log live under the user's data directory, so a
second `make demo` reuses the data. Quitting the TUI stops the server with SIGTERM (a clean
close); only a server that ignores that for 10 s is killed.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from backend.demo import issue_token, seed_demo_data
from frontdesk import paths
from frontdesk.errors import CliError
from frontdesk.tui_settings import app_options, load_for_replica
from offline.engine import EngineConfig
from protocol.models import Role

DEMO_USER = "demo"
START_TIMEOUT = 20.0
SERVE = (sys.executable, "-m", "frontdesk", "serve")


def start_server(server_dir: Path, log_path: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `frontdesk serve` on a free port; return the process and its URL once it listens."""
    log = log_path.open("a", encoding="utf-8")
    proc = subprocess.Popen(
        [*SERVE, "--host", "127.0.0.1", "--port", "0", "--data-dir", str(server_dir)],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        if not selector.select(timeout=left):
            break
        line = proc.stdout.readline()
        if not line:  # the server exited before it listened
            break
        if "listening on " in line:
            return proc, line.rsplit("listening on ", 1)[1].strip()
    stop_server(proc)
    raise CliError(f"the demo server did not start; see {log_path}")


def stop_server(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then wait for the clean close; kill only if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def prepare(server_dir: Path) -> str:
    """Seed demo data on first run and mint a token for the demo manager."""
    await seed_demo_data(server_dir)
    answer = await issue_token(server_dir, DEMO_USER)
    return str(answer["token"])


def run_demo(*, data_dir: Path | None) -> int:
    """Seed (once), start the server, run the TUI signed in as the demo manager, stop the server."""
    from tui.app import FrontdeskApp

    root = data_dir or paths.demo_dir()
    server_dir, client_dir = root / "server", root / "client"
    server_dir.mkdir(parents=True, exist_ok=True)
    client_dir.mkdir(parents=True, exist_ok=True)
    settings = load_for_replica(client_dir)
    token = asyncio.run(prepare(server_dir))
    proc, url = start_server(server_dir, root / "server.log")
    try:
        config = EngineConfig(
            data_dir=client_dir, user=DEMO_USER, role=Role.MANAGER, server_url=url, token=token
        )
        FrontdeskApp(config, **app_options(settings)).run()
    finally:
        stop_server(proc)
    return 0
