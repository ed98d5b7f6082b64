"""Start the servers under test as child processes, the way an operator would.

The frontdesk server runs through its own CLI (``python -m frontdesk serve``) with a fresh data
directory and a manager account made with ``frontdesk user add``. The bench lifts the
one-user connection cap (``FRONTDESK_MAX_CONNECTIONS_PER_USER``) because its hundreds of
listeners all sign in as one user; everything else is the shipped default.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import PYTHON, REPO, Child, bench_env

USER = "bench"
PASSWORD = "bench-pass-1234"
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


def add_user(data_dir: Path, name: str = USER, password: str = PASSWORD) -> None:
    cmd = [PYTHON, "-m", "frontdesk", "user", "add", name, "--role", "manager"]
    done = subprocess.run(
        [*cmd, "--password-stdin", "--data-dir", str(data_dir)],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=bench_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"frontdesk user add failed: {done.stderr.strip()}")


def get_token(http_url: str, user: str = USER, password: str = PASSWORD) -> str:
    with httpx.Client(trust_env=False, timeout=30) as client:
        answer = client.get(f"{http_url}/api/v1/token", auth=(user, password))
        answer.raise_for_status()
        return answer.json()["token"]


@contextlib.contextmanager
def frontdesk_server(data_dir: Path, *, add_account: bool = True) -> Iterator[Running]:
    """``frontdesk serve`` on an ephemeral loopback port, with a signed-in manager."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if add_account and not (data_dir / ".bench-user").exists():
        add_user(data_dir)
        (data_dir / ".bench-user").touch()
    cmd = [PYTHON, "-m", "frontdesk", "serve", "--host", "127.0.0.1", "--port", "0"]
    proc = Child([*cmd, "--data-dir", str(data_dir)], env=bench_env(**SERVER_ENV))
    try:
        line = proc.wait_line("frontdesk: listening on ", 60)
        http_url = line.split("listening on ", 1)[1].strip()
        ws_url = http_url.replace("http://", "ws://", 1) + "/ws"
        yield Running(proc, ws_url, http_url, get_token(http_url))
    finally:
        proc.stop()


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
