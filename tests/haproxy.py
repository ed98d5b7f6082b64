"""A real HAProxy on loopback in front of several servers, configured by docs/haproxy.cfg.example.

The configuration the operators get is the one the tests run: ``render()`` reads the example and
changes only what loopback needs (each change must match exactly once, so an edit to the example
that this module does not understand fails the tests instead of silently testing something else):

- the frontend's ``bind :443 ssl crt …`` becomes ``bind 127.0.0.1:PORT`` (no certificate here);
- the log goes to HAProxy's stderr (the test's ``haproxy.log``) instead of syslog;
- the runtime socket and the stats page move into the test's temporary directory / a free port;
- the health checks run every 100 ms, out after 2 failures, back after 1 success (tests wait on
  them; production uses 2 s / 2 / 2). ``timeout check`` stays 2 s: a loaded test machine
  answers a check late now and then, and that must not take a healthy instance out;
- the ``server`` lines become the test's own instances.

HAProxy runs in the foreground (``-db``) as a child process and is stopped with SIGTERM (a hard
stop: with ``timeout tunnel 1h`` a soft stop would wait for every WebSocket to end).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "haproxy.cfg.example"
INSTALL_HINT = "apt-get install haproxy"
BACKEND = "instances"
"""The backend section's name in the example; server states are read from it."""
START_TIMEOUT = 10.0


class HAProxyUnavailable(RuntimeError):
    """The ``haproxy`` binary is not on this machine."""


def find_haproxy() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if found is None:
        raise HAProxyUnavailable(f"HAProxy is not installed (no haproxy binary): {INSTALL_HINT}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{EXAMPLE.name}: expected one line matching {pattern!r}, found {count}")
    return new


def render(
    example: str,
    *,
    port: int,
    servers: Sequence[tuple[str, int]],
    socket_path: Path,
    stats_port: int,
    inter: str = "100ms",
    fall: int = 2,
    rise: int = 1,
) -> str:
    """The example with loopback addresses, fast checks and ``servers`` (host, port) in it."""
    text = _replace_once(example, r"^(\s*)bind :443 ssl crt \S+$", rf"\g<1>bind 127.0.0.1:{port}")
    text = _replace_once(text, r"^(\s*log) /dev/log (\S+)$", r"\g<1> stderr format short \g<2>")
    text = _replace_once(text, r"^(\s*stats socket )\S+", rf"\g<1>{socket_path}")
    text = _replace_once(text, r"^(\s*bind )127\.0\.0\.1:8404$", rf"\g<1>127.0.0.1:{stats_port}")
    text = _replace_once(
        text,
        r"^(\s*default-server check) inter \S+ fall \d+ rise \d+$",
        rf"\g<1> inter {inter} fall {fall} rise {rise}",
    )
    lines = [f"    server frontdesk{i} {host}:{p}" for i, (host, p) in enumerate(servers, 1)]
    return _replace_once(text, r"(?:^\s*server frontdesk\d+ \S+\n)+", "\n".join(lines) + "\n")


class HAProxy:
    """One HAProxy process; ``url``/``ws_url`` reach the servers through it."""

    def __init__(self, servers: Sequence[tuple[str, int]], **check_timing: str | int) -> None:
        self.binary = find_haproxy()
        self.servers = list(servers)
        self.dir = Path(tempfile.mkdtemp(prefix="frontdesk-haproxy-"))
        self.socket_path = self.dir / "admin.sock"
        self.config_path = self.dir / "haproxy.cfg"
        self.log_path = self.dir / "haproxy.log"
        self.port = 0
        self.stats_port = 0
        self.check_timing = check_timing
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def names(self) -> list[str]:
        """The server names HAProxy knows them by, in the order given."""
        return [f"frontdesk{i}" for i in range(1, len(self.servers) + 1)]

    def start(self) -> None:
        """Write the config, check it, run HAProxy, wait until it accepts connections."""
        self.port, self.stats_port = free_port(), free_port()
        self.config_path.write_text(
            render(
                EXAMPLE.read_text(),
                port=self.port,
                servers=self.servers,
                socket_path=self.socket_path,
                stats_port=self.stats_port,
                **self.check_timing,  # type: ignore[arg-type]
            )
        )
        check = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c rejected the config:\n{check.stdout}{check.stderr}")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # a process's readiness: nothing to await but the port (bounded)
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited at start:\n{self.log_path.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                if self.socket_path.exists():
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"haproxy did not listen within {START_TIMEOUT}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM (hard stop: open tunnels are cut), then remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(START_TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- runtime API -------------------------------------------------------------------------

    async def command(self, line: str) -> str:
        """One runtime-API command on the admin socket; its whole answer."""
        reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def states(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it: ``UP``, ``DOWN``, ``MAINT``, ``UP 1/2`` …

        A server counts as ``UP`` only once a health check has passed: HAProxy starts every
        server as UP before its first check.
        """
        text = (await self.command("show stat")).lstrip("# ")
        states = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row["pxname"] != BACKEND or row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            status = row["status"]
            check = row["check_status"].removeprefix("* ")  # "* ": a check is running now
            if status == "UP" and check != "L7OK":
                status = f"UP (last check: {check or 'none'})"
            states[row["svname"]] = status
        return states

    async def wait_state(self, name: str, status: str, timeout: float = 10.0) -> None:
        """Until ``name`` has ``status``: HAProxy does not push changes, so poll (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = (await self.states()).get(name)
            if seen == status:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"haproxy: {name} is {seen!r}, not {status!r}, after {timeout}s")
            await asyncio.sleep(0.02)

    async def set_state(self, name: str, state: str) -> None:
        """``ready``, ``drain`` or ``maint`` for one server (what an operator does by hand)."""
        answer = await self.command(f"set server {BACKEND}/{name} state {state}")
        if answer.strip():
            raise RuntimeError(f"haproxy: {answer.strip()}")
