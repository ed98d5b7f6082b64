"""A server killed with SIGKILL mid-stream loses nothing it acknowledged, applies nothing twice.

A real ``python -m frontdesk serve`` process takes pipelined creates from several raw WebSocket
clients (no waiting for acks: as fast as TCP lets them). When enough acks have come back it is
killed with SIGKILL, restarted on the same data directory, and the clients reconnect and resend
*everything* they sent (acked or not), as a client that lost its connection does. Afterwards:
every acknowledged request is there, every one exactly once, the resent acked mutations
got their original ``seq`` back, and ``PRAGMA integrity_check`` is ok.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from conftest import USERS
from helpers import connect, spawn_serve, token_for, wait_for
from websockets.exceptions import ConnectionClosed

from backend.accounts import add_user

CLIENTS = ("ann", "bob", "meg")
CREATES_EACH = 1000
KILL_AFTER_ACKS = 300


async def start_serve(data_dir: Path, log: Path) -> tuple[asyncio.subprocess.Process, Any]:
    """``frontdesk serve`` on a free loopback port; returns the process and an object with .url."""
    proc, url = await spawn_serve(data_dir, log, env={"FRONTDESK_LOGIN_DELAY_BASE": "0.01"})
    return proc, SimpleNamespace(url=url)


@dataclass
class Writer:
    """One raw client's record of what it sent and what came back."""

    user: str
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    acks: dict[int, int] = field(default_factory=dict)
    """n → seq of its ack."""

    def request_id(self, n: int) -> str:
        return str(uuid.uuid5(uuid.UUID(self.client_id), str(n)))

    def frame(self, n: int) -> dict[str, Any]:
        """Mutation ``n``: a new request each (rows stay small, so frames stay small)."""
        args = {
            "id": self.request_id(n),
            "room": str(100 + n % 1000),
            "category": "housekeeping",
            "description": f"{self.user} {n}",
            "priority": "normal",
        }
        return {
            "type": "mutate",
            "client_id": self.client_id,
            "n": n,
            "name": "create_request",
            "args": args,
        }


async def pump(server: Any, writer: Writer, token: str, upto: int) -> None:
    """Send mutations 1..upto without waiting, reading acks as they come, until cut off."""
    try:
        client = await connect(server, token, client_id=writer.client_id)
    except (ConnectionClosed, OSError):
        return  # the server died before this client got in: it sent nothing

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in client.ws:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    writer.acks[frame["n"]] = frame["seq"]
                elif frame["type"] in ("reject", "error"):
                    raise AssertionError(f"unexpected answer {frame}")

    reader = asyncio.create_task(read())
    try:
        for n in range(1, upto + 1):
            writer.sent[n] = writer.frame(n)
            await client.ws.send(json.dumps(writer.sent[n]))
        await reader
    except ConnectionClosed:
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await reader


async def test_sigkill_under_pipelined_writes_loses_no_acked_request_and_doubles_none(tmp_path):
    data_dir = tmp_path / "server"
    for name, (role, password) in USERS.items():
        await add_user(data_dir, name, role, password)
    log = tmp_path / "serve.log"
    proc, server = await start_serve(data_dir, log)
    writers = [Writer(user) for user in CLIENTS]
    try:
        tokens = {w.user: await token_for(server, w.user, USERS[w.user][1]) for w in writers}
        pumps = [
            asyncio.create_task(pump(server, w, tokens[w.user], CREATES_EACH)) for w in writers
        ]
        await wait_for(
            lambda: sum(len(w.acks) for w in writers) >= KILL_AFTER_ACKS,
            timeout=30,
            message="too few acks before the kill",
        )
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
        await asyncio.wait_for(asyncio.gather(*pumps), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    acked_before = {w.user: dict(w.acks) for w in writers}
    sent = sum(len(w.sent) for w in writers)

    proc, server = await start_serve(data_dir, log)
    try:
        # Everyone comes back and resends everything sent before the crash, acked or not.
        for w in writers:
            if not w.sent:
                continue
            client = await connect(server, tokens[w.user], client_id=w.client_id)
            for n in sorted(w.sent):
                await client.send(w.sent[n])
            last = max(w.sent)
            while True:
                frame = await client.recv_until("ack", timeout=20)
                if frame["type"] == "ack":
                    seq_before = acked_before[w.user].get(frame["n"])
                    assert seq_before is None or seq_before == frame["seq"], (
                        f"{w.user} n={frame['n']} acked with seq {seq_before} before the crash,"
                        f" {frame['seq']} after: applied again?"
                    )
                if frame["n"] == last:
                    break
            refused = [f for f in client.received if f["type"] in ("reject", "error")]
            assert not refused, f"a resend was refused, not answered as a duplicate: {refused[0]}"
            await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0

    db = sqlite3.connect(f"file:{data_dir / 'frontdesk.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(db.execute("SELECT id, data FROM requests").fetchall())
        lost = doubled = 0
        for w in writers:
            lost += sum(1 for n in acked_before[w.user] if w.request_id(n) not in rows)
            lost += sum(1 for n in w.sent if w.request_id(n) not in rows)
            doubled += len(
                db.execute(
                    "SELECT n FROM changes WHERE client_id = ? GROUP BY n HAVING count(*) > 1",
                    (w.client_id,),
                ).fetchall()
            )
            for n in w.sent:
                row = json.loads(rows[w.request_id(n)])
                assert row["version"] == 1 and row["description"] == f"{w.user} {n}"
    finally:
        db.close()
    acked = sum(len(a) for a in acked_before.values())
    print(
        f"sigkill: clients={len(writers)} sent={sent} acked_before_kill={acked}"
        f" lost={lost} doubled={doubled}"
    )
    assert acked >= KILL_AFTER_ACKS
    assert lost == 0 and doubled == 0
