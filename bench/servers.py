"""Start the servers under test as child processes, the way an operator would.

The frontdesk server runs as ``FrontdeskServer(ServerConfig)`` in its own process
(``bench.run_frontdesk``, what ``frontdesk serve`` does) with a fresh data directory and a
manager account. The bench lifts the
one-user connection cap (``FRONTDESK_MAX_CONNECTIONS_PER_USER``) because its hundreds of
listeners all sign in as one user; everything else is the shipped default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import PYTHON, Child, bench_env
from bench.run_frontdesk import PASSWORD, USER

SERVER_ENV = {"FRONTDESK_MAX_CONNECTIONS_PER_USER": "100000"}


@dataclass
class Running:
    """A server under test: its process, where to reach it, and a token when it has accounts."""

    child: Child
    ws_url: str
    http_url: str | None = None
    token: str | None = None

    @property
    def pid(self) -> int:
        return self.child.pid


def get_token(http_url: str, user: str = USER, password: str = PASSWORD) -> str:
    with httpx.Client(trust_env=False, timeout=30) as client:
        answer = client.get(f"{http_url}/api/v1/token", auth=(user, password))
        answer.raise_for_status()
        return answer.json()["token"]


def start_frontdesk(data_dir: Path, database_url: str | None = None) -> Running:
    """Start ``bench.run_frontdesk`` on an ephemeral loopback port and sign in; the caller
    stops ``.child``. With ``database_url`` it is one instance on that PostgreSQL database."""
    cmd = [PYTHON, "-m", "bench.run_frontdesk", "--data-dir", str(data_dir)]
    if database_url:
        cmd += ["--database-url", database_url]
    proc = Child(cmd, env=bench_env(**SERVER_ENV))
    try:
        line = proc.wait_line("frontdesk: listening on ", 60)
        http_url = line.split("listening on ", 1)[1].strip()
        ws_url = http_url.replace("http://", "ws://", 1) + "/ws"
        return Running(proc, ws_url, http_url, get_token(http_url))
    except BaseException:
        proc.stop(timeout=10)
        raise


@contextlib.contextmanager
def frontdesk_server(data_dir: Path, database_url: str | None = None) -> Iterator[Running]:
    """The frontdesk server (``bench.run_frontdesk``) on an ephemeral loopback port, signed in."""
    running = start_frontdesk(data_dir, database_url)
    try:
        yield running
    finally:
        running.child.stop(timeout=60)


@contextlib.contextmanager
def raw_server(kind: str, data_dir: Path | None = None) -> Iterator[Running]:
    """One of ``bench.raw_servers``: ``creates``, ``broadcast`` or ``idle``."""
    cmd = [PYTHON, "-m", "bench.raw_servers", kind]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    proc = Child(cmd)
    try:
        line = proc.wait_line("raw: listening on ", 30)
        yield Running(proc, line.split("listening on ", 1)[1].strip())
    finally:
        proc.stop()
