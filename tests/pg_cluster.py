"""A throw-away PostgreSQL cluster for tests: one per session, a fresh database per test.

Debian's ``postgresql`` package puts its binaries in ``/usr/lib/postgresql/<version>/bin`` (not on
PATH); the newest version there is used (``FRONTDESK_PG_BINDIR`` overrides). ``initdb`` and
``pg_ctl`` refuse to run as root, so under root they run as the ``postgres`` system user (the
package creates it) via ``runuser``, in a temporary directory owned by that user; as any other
user they run directly.

The cluster listens on 127.0.0.1 only, on a free port that it keeps across ``restart()`` (tests
restart PostgreSQL under load and expect clients to find it again at the same address), and on a
Unix socket inside its own directory. It runs with ``fsync=off``: this is for tests only, never
for a real database. It loses data only when the *machine* crashes; a PostgreSQL process that is
killed or stopped with ``-m immediate`` keeps everything it committed (the kernel still holds the
writes), so "nothing acked is lost across a PostgreSQL restart" is still a true test under it.

``CREATE DATABASE`` copies ``template1`` (about 0.25 s here), so the next test's database is made
in a background thread while the current test runs, and finished tests' databases are dropped
there too; lifecycle calls wait for that background work first.

Readiness is ``pg_ctl -w``: pg_ctl watches the postmaster's pid file until it says "ready", with
a bounded timeout, then ``pg_isready`` confirms that the TCP port answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

INSTALL_HINT = "apt-get install postgresql"
START_TIMEOUT = 30.0
"""Seconds ``pg_ctl -w`` may wait for the server to accept connections (or to stop)."""

TEST_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # tests only: see the module docstring
    "synchronous_commit": "on",  # a commit still waits for its WAL write, as in production
    "full_page_writes": "off",  # only matters after an OS crash, which fsync=off gives up anyway
    "max_connections": "300",  # several instances with pools, plus listeners, in one test
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries (or the user to run them as) are not on this machine."""


def find_bindir() -> Path:
    """The directory holding ``initdb``/``pg_ctl``: newest Debian version, else PATH."""
    override = os.environ.get("FRONTDESK_PG_BINDIR")
    if override:
        if not (Path(override) / "initdb").exists():
            raise PostgresUnavailable(
                f"FRONTDESK_PG_BINDIR={override} has no initdb: fix it, or {INSTALL_HINT}"
            )
        return Path(override)
    root = Path("/usr/lib/postgresql")
    versions = []
    if root.is_dir():
        for child in root.iterdir():
            if re.fullmatch(r"\d+(\.\d+)?", child.name) and (child / "bin" / "initdb").exists():
                versions.append((tuple(int(p) for p in child.name.split(".")), child / "bin"))
    if versions:
        return max(versions)[1]
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        f"PostgreSQL is not installed (no initdb in {root}/*/bin or on PATH): {INSTALL_HINT}"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """One PostgreSQL server in a temporary directory; see the module docstring.

    The blocking methods (``start``, ``stop``, ``restart``, ``create_database``) suit fixtures;
    inside a running event loop use ``astart``/``astop``/``arestart`` so that the servers under
    test keep running (and notice the outage) while PostgreSQL goes down and comes back.
    """

    def __init__(self, bindir: Path | None = None, settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.run_as: str | None = "postgres" if os.geteuid() == 0 else None
        if self.run_as is not None:
            try:
                self._owner = pwd.getpwnam(self.run_as)
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run initdb as: "
                    f"{INSTALL_HINT} creates it"
                ) from None
        self.root = Path(tempfile.mkdtemp(prefix="frontdesk-pg-"))
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self.port = 0
        self.running = False
        self._names = itertools.count(1)
        self._background = concurrent.futures.ThreadPoolExecutor(1, "pg-cluster")
        self._pending: list[concurrent.futures.Future[str]] = []
        self._spare: concurrent.futures.Future[str] | None = None

    # -- addresses ---------------------------------------------------------------------------

    def dsn(self, dbname: str = "postgres") -> str:
        """``postgresql://postgres@127.0.0.1:PORT/DBNAME`` (trust auth: no password)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle (blocking) ----------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster (``initdb``, about 1 s) and start it on a free port."""
        os.chmod(self.root, 0o700)
        if self.run_as is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A"]
        self._check([*initdb, "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            try:
                self.start()
                return
            except RuntimeError:
                if "could not bind" not in self._log_tail():
                    raise
        raise RuntimeError(f"PostgreSQL found no free port:\n{self._log_tail()}")

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        self._settle()
        self._check(self._start_cmd(), what="pg_ctl start")
        self._check(self._isready_cmd(), what="pg_isready", as_owner=False)
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (disconnect clients, clean) or ``immediate`` (a crash)."""
        self._settle()
        self._check(self._stop_cmd(mode), what="pg_ctl stop")
        self.running = False

    def ensure_running(self) -> None:
        """Start the server if a test left it stopped."""
        if not self.running:
            self.start()

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port."""
        self.stop(mode)
        self.start()

    def create_database(self) -> str:
        """A new empty database (``test_N``) for one test; the next one is prepared meanwhile."""
        spare, self._spare = self._spare, None
        name = None
        if spare is not None:
            with contextlib.suppress(Exception):  # made before a stop: make one now instead
                name = spare.result()
        if name is None:
            name = self._create_now()
        self._spare = self._submit(self._create_now)
        return name

    def release_database(self, name: str) -> None:
        """Drop ``name`` in the background (disconnecting whoever is still on it)."""
        self._submit(self.drop_database, name)

    def drop_database(self, name: str) -> str:
        """Drop ``name`` now, disconnecting whoever is still on it."""
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return name

    def _create_now(self) -> str:
        name = f"test_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    def _submit(self, fn: Callable[..., str], *args: str) -> concurrent.futures.Future[str]:
        future = self._background.submit(fn, *args)
        self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def _settle(self) -> None:
        """Wait for background database work (its errors do not matter to a stop or start)."""
        concurrent.futures.wait(self._pending, timeout=START_TIMEOUT)
        self._pending = [f for f in self._pending if not f.done()]

    def terminate_connections(self, dbname: str) -> int:
        """Cut every client connection to ``dbname`` (a network blip, a listener that dies);
        the server stays up. Returns how many were cut. Takes one ``psql`` call (~20 ms)."""
        cut = self.sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()"
        )
        return int(cut)

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run one statement with ``psql`` and return its unaligned output (no driver needed)."""
        cmd = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        cmd += ["-d", self.dsn(dbname), "-c", statement]
        return self._check(cmd, what="psql", as_owner=False).strip()

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        self._settle()
        self._background.shutdown(wait=True, cancel_futures=True)
        try:
            if self.running or (self.data_dir / "postmaster.pid").exists():
                self.stop("fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- lifecycle (inside an event loop) ----------------------------------------------------

    async def astart(self) -> None:
        """``start()`` without blocking the event loop."""
        await asyncio.to_thread(self._settle)
        await self._acheck(self._start_cmd(), what="pg_ctl start")
        await self._acheck(self._isready_cmd(), what="pg_isready", as_owner=False)
        self.running = True

    async def astop(self, mode: str = "fast") -> None:
        """``stop()`` without blocking the event loop."""
        await asyncio.to_thread(self._settle)
        await self._acheck(self._stop_cmd(mode), what="pg_ctl stop")
        self.running = False

    async def arestart(self, mode: str = "fast") -> None:
        """``restart()`` without blocking the event loop."""
        await self.astop(mode)
        await self.astart()

    # -- commands ----------------------------------------------------------------------------

    def _start_cmd(self) -> list[str]:
        options = [f"-p {self.port}", f"-k {self.root}"]
        options += [f"-c {key}={value}" for key, value in self.settings.items()]
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file)]
        return [*pg_ctl, "-o", " ".join(options), "-w", "-t", str(int(START_TIMEOUT)), "start"]

    def _stop_cmd(self, mode: str) -> list[str]:
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode]
        return [*pg_ctl, "-w", "-t", str(int(START_TIMEOUT)), "stop"]

    def _isready_cmd(self) -> list[str]:
        isready = str(self.bindir / "pg_isready")
        return [isready, "-h", "127.0.0.1", "-p", str(self.port), "-t", str(int(START_TIMEOUT))]

    def _wrap(self, cmd: Sequence[str], as_owner: bool) -> list[str]:
        if as_owner and self.run_as is not None:
            return ["runuser", "-u", self.run_as, "--", *cmd]
        return list(cmd)

    def _check(self, cmd: Sequence[str], what: str, as_owner: bool = True) -> str:
        done = subprocess.run(
            self._wrap(cmd, as_owner),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 10,
            cwd=self.root if as_owner else None,
        )
        if done.returncode != 0:
            raise RuntimeError(self._failure(what, done.stdout + done.stderr))
        return done.stdout

    async def _acheck(self, cmd: Sequence[str], what: str, as_owner: bool = True) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self._wrap(cmd, as_owner),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.root if as_owner else None,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), START_TIMEOUT + 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        if proc.returncode != 0:
            raise RuntimeError(self._failure(what, out.decode(errors="replace")))
        return out.decode(errors="replace")

    def _failure(self, what: str, output: str) -> str:
        return f"{what} failed: {output.strip()}\n--- server log ---\n{self._log_tail()}"

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"
