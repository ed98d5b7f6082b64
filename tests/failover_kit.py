"""Clients that live through an instance dying: they reconnect through the load balancer to
whichever instance answers, resume from their ``last_seq`` and resend every unanswered mutation
with its original ``n`` (what the offline engine does), and remember everything they were told.

Shared by the multi-instance failover test and its longer ``make soak`` version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from conftest import USERS
from helpers import spawn_serve, wait_for
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.accounts import add_user
from backend.pg_store import PostgresStore

RECONNECT_LIMIT = 30.0
"""Seconds a client keeps trying to reconnect before the test fails."""


class Resumer:
    """One terminal's link: connects (again) through ``ws_url`` and keeps its position."""

    def __init__(self, ws_url: str, token: str, *, channels: list[str] | None = None) -> None:
        self.ws_url = ws_url
        self.token = token
        self.client_id = str(uuid.uuid4())
        self.channels = channels
        self.ws: ClientConnection | None = None
        self.changes: dict[int, dict[str, Any]] = {}
        """Every change seen (catch-up or live), by seq."""
        self.instances: list[str] = []
        """The instance named by each ``welcome``, in order."""
        self.reconnects = 0
        self.resumed_after: list[float] = []
        """Seconds from noticing a dead link to ``synced`` on a new one."""
        self.on_frame: Callable[[dict[str, Any]], None] | None = None
        self._lost_at: float | None = None

    @property
    def last_seq(self) -> int:
        """The highest seq below which nothing is missing."""
        seq = 0
        while seq + 1 in self.changes:
            seq += 1
        return seq

    async def open(self) -> None:
        """Connect and say hello until ``synced``, retrying while instances come and go."""
        deadline = time.monotonic() + RECONNECT_LIMIT
        delay = 0.05
        while True:
            try:
                self.ws = await ws_connect(
                    self.ws_url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    compression=None,
                    max_queue=None,
                    open_timeout=5,
                )
                await self.ws.send(
                    json.dumps(
                        {
                            "type": "hello",
                            "v": 1,
                            "client_id": self.client_id,
                            "last_seq": self.last_seq,
                        }
                    )
                )
                while True:
                    frame = await self._read()
                    if frame["type"] == "welcome":
                        self.instances.append(frame.get("instance", ""))
                        self.welcomed(frame)
                    if frame["type"] == "synced":
                        break
                if self.channels:
                    await self.ws.send(json.dumps({"type": "subscribe", "channels": self.channels}))
                if self._lost_at is not None:
                    self.resumed_after.append(time.monotonic() - self._lost_at)
                    self._lost_at = None
                return
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError) as exc:
                if self.ws is not None:
                    with contextlib.suppress(Exception):
                        await self.ws.close()
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not reconnect within {RECONNECT_LIMIT}s") from exc
                await asyncio.sleep(delay)
                delay = min(0.5, delay * 2)

    def welcomed(self, welcome: dict[str, Any]) -> None:
        """Hook for subclasses (the writer learns ``last_mutation``)."""

    async def _read(self) -> dict[str, Any]:
        assert self.ws is not None
        frame = json.loads(await self.ws.recv())
        kind = frame["type"]
        if kind == "changes":
            for entry in frame["changes"]:
                self.changes[entry["seq"]] = entry["request"]
        elif kind == "change":
            self.changes[frame["seq"]] = frame["request"]
        elif kind == "snapshot":
            raise AssertionError("no snapshot expected: the log is never compacted here")
        if self.on_frame is not None:
            self.on_frame(frame)
        return frame

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop``; a dead link is replaced by a new one (through the balancer)."""
        if self.ws is None:
            await self.open()
        while not stop.is_set():
            try:
                reader = asyncio.ensure_future(self._read())
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if reader not in done:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await reader
                    break
                stopper.cancel()
                reader.result()
            except ConnectionClosed:
                self._lost_at = time.monotonic()
                self.reconnects += 1
                await self.reconnected()
        if self.ws is not None:
            await self.ws.close()

    async def reconnected(self) -> None:
        await self.open()


class ResendingWriter(Resumer):
    """A terminal that logs ``count`` requests and keeps resending what is unanswered."""

    def __init__(self, ws_url: str, token: str, count: int) -> None:
        super().__init__(ws_url, token)
        self.count = count
        self.sent: dict[int, dict[str, Any]] = {}
        self.answers: dict[int, dict[str, Any]] = {}
        self.acks_seen: dict[int, list[dict[str, Any]]] = {}
        """Every ack received per n (a resend must get the same ack back)."""
        self.errors: list[dict[str, Any]] = []
        self.all_answered = asyncio.Event()
        self.on_frame = self._frame
        self._next = 1

    def _frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] in ("ack", "reject"):
            self.answers[frame["n"]] = frame
            if frame["type"] == "ack":
                self.acks_seen.setdefault(frame["n"], []).append(frame)
            if len(self.answers) == self.count:
                self.all_answered.set()
        elif frame["type"] == "error":
            self.errors.append(frame)

    def frame(self, n: int) -> str:
        args = self.sent.setdefault(
            n,
            {
                "id": str(uuid.uuid4()),
                "room": str(100 + n % 400),
                "category": "housekeeping",
                "description": f"towels {self.client_id[:8]} #{n}",
                "priority": "normal",
            },
        )
        return json.dumps(
            {
                "type": "mutate",
                "client_id": self.client_id,
                "n": n,
                "name": "create_request",
                "args": args,
            }
        )

    async def reconnected(self) -> None:
        await self.open()
        assert self.ws is not None
        for n in sorted(self.sent):  # every unanswered mutation again, with its own n
            if n not in self.answers:
                await self.ws.send(self.frame(n))

    async def write(self, stop: asyncio.Event, pace: float = 0.0) -> None:
        """Send the next mutations while connected (a paced pipeline), until all are sent."""
        while self._next <= self.count and not stop.is_set():
            ws = self.ws
            if ws is None or self._lost_at is not None:
                await asyncio.sleep(0.01)
                continue
            n = self._next
            try:
                await ws.send(self.frame(n))
            except ConnectionClosed:
                await asyncio.sleep(0.01)  # the reader reconnects and resends it
                self._next = n + 1
                continue
            self._next = n + 1
            if pace:
                await asyncio.sleep(pace)
            elif n % 20 == 0:
                await asyncio.sleep(0)


@dataclass
class Figures:
    """What one run proved, for the test's assertions and the soak's report."""

    acked: int
    head: int
    failover_s: float
    reconnects: int


async def run_failover(
    pg_url: str,
    pg_cluster,
    start_haproxy,
    tmp_path: Path,
    *,
    writers: int = 6,
    listeners: int = 6,
    per_writer: int = 300,
    pace: float = 0.002,
) -> Figures:
    """The whole story; asserts every promise and returns the figures."""
    for name, (role, password) in USERS.items():
        await add_user(None, name, role, password, pg_url)
    env = {
        "FRONTDESK_DATABASE_URL": pg_url,
        "FRONTDESK_FOLLOW_SECONDS": "0.5",
        # The check below reads the whole log through each instance from seq 0: a new terminal
        # would otherwise get the working set as a snapshot once the log is long (the soak's).
        "FRONTDESK_SNAPSHOT_LOG_ENTRIES": "100000000",
    }
    procs = []
    try:
        for i in range(3):
            proc, url = await spawn_serve(tmp_path / f"i{i}", tmp_path / f"i{i}.log", env=env)
            procs.append((proc, url))
        ports = [int(url.rsplit(":", 1)[1]) for _, url in procs]
        balancer = start_haproxy([("127.0.0.1", p) for p in ports])
        for name in balancer.names:
            await balancer.wait_state(name, "UP")
        async with httpx.AsyncClient(base_url=balancer.url) as http:
            tokens = {
                user: (await http.get("/api/v1/token", auth=(user, pw))).json()["token"]
                for user, (_role, pw) in USERS.items()
            }
        names = list(USERS)
        stop = asyncio.Event()
        writing = [
            ResendingWriter(balancer.ws_url, tokens[names[i % 4]], per_writer)
            for i in range(writers)
        ]
        watching = [Resumer(balancer.ws_url, tokens[names[i % 4]]) for i in range(listeners)]
        for client in (*writing, *watching):
            await client.open()
        readers = [asyncio.create_task(c.run(stop)) for c in (*writing, *watching)]
        senders = [asyncio.create_task(w.write(stop, pace)) for w in writing]

        total = writers * per_writer

        def answered() -> int:
            for task in (*readers, *senders):  # a client that died fails the test at once
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]  # not None: checked above
            return sum(len(w.answers) for w in writing)

        # Mid-load, an instance dies without a word.
        await wait_for(lambda: answered() >= total // 4, 60, "no progress before the kill")
        victim, _ = procs[0]
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        await wait_for(lambda: answered() >= total // 2, 60, "no progress after the kill")

        # Then PostgreSQL itself restarts under load: the instances ride it out.
        await pg_cluster.arestart()
        try:
            await wait_for(lambda: answered() == total, 120)
        except AssertionError:
            state = [
                (
                    [n for n in w.sent if n not in w.answers][:3],
                    len(w.answers),
                    w.reconnects,
                    w.instances,
                )
                for w in writing
            ]
            raise AssertionError(f"answered {answered()} of {total}: {state}") from None
        await asyncio.gather(*senders)
        last = max(f["seq"] for w in writing for f in w.answers.values())
        everyone = (*writing, *watching)
        await wait_for(lambda: all(c.last_seq >= last for c in everyone), 30, "changes missing")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*readers), 30)

        # Every acknowledged create is in the database once, with a unique ticket number.
        store = await PostgresStore.open(pg_url, load_requests=True)
        try:
            head = store.state.head_seq
            rows = store.state.requests
            acked = {
                w.sent[n]["id"]: frame
                for w in writing
                for n, frame in w.answers.items()
                if frame["type"] == "ack"
            }
            assert len(acked) == writers * per_writer, "every mutation was finally acked"
            for rid, frame in acked.items():
                assert rid in rows, f"acked create {rid} lost"
                assert rows[rid].number == frame["request"]["number"]
            numbers = Counter(r.number for r in rows.values())
            assert all(count == 1 for count in numbers.values()), "ticket numbers unique"
            assert len(rows) == writers * per_writer, "nothing applied twice"
            log = await store.read_changes(0, head + 10)
            assert [seq for seq, _ in log] == list(range(1, head + 1)), "seq gap-free"
        finally:
            await store.close()
        for w in writing:
            for n, acks in w.acks_seen.items():
                assert len({a["seq"] for a in acks}) == 1, f"n={n} answered with two seqs"
        # Every listener has every change, whichever instances it went through.
        for client in (*writing, *watching):
            missing = sorted(set(range(1, head + 1)) - set(client.changes))
            assert not missing, (
                f"a terminal misses {len(missing)} changes from {missing[:5]}; it went through"
                f" {client.instances} with {client.reconnects} reconnects"
            )
        # The same log, seq for seq, read through each surviving instance.
        for _, url in procs[1:]:
            check = Resumer(url.replace("http://", "ws://") + "/ws", tokens["adam"])
            await check.open()
            assert check.last_seq == head
            assert check.changes == writing[0].changes
            assert check.ws is not None
            await check.ws.close()
        moved = [c for c in (*writing, *watching) if c.resumed_after]
        assert moved, "the SIGKILL cut somebody's connection"
        failover = max(t for c in moved for t in c.resumed_after)
        return Figures(
            acked=len(acked),
            head=head,
            failover_s=failover,
            reconnects=sum(c.reconnects for c in (*writing, *watching)),
        )
    finally:
        for proc, _ in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
