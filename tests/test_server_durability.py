"""A server killed mid-stream loses no acknowledged edit and applies none twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from socket import SO_RCVBUF, SO_SNDBUF, SOL_SOCKET

import pytest
from conftest import USERS, make_config, start_server
from helpers import WsClient, connect, token_for, wait_for

from backend.accounts import add_user
from backend.sqlite_store import SqliteStore
from backend.websockets_adapter import write_backlog

SERVE = """
import asyncio, sys
from pathlib import Path
from backend.app import FrontdeskServer
from backend.config import ServerConfig

async def main():
    server = FrontdeskServer(ServerConfig(host="127.0.0.1", port=0, data_dir=Path(sys.argv[1])))
    await server.start()
    print(server.url, flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class Url:
    def __init__(self, url: str) -> None:
        self.url = url


async def test_sigkill_under_pipelined_writes_loses_no_ack_and_applies_nothing_twice(tmp_path):
    data_dir = tmp_path / "server"
    for name, (role, password) in USERS.items():
        await add_user(data_dir, name, role, password, os.environ.get("FRONTDESK_DATABASE_URL"))
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(data_dir)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = await asyncio.to_thread(proc.stdout.readline)
        remote = Url(url.strip())
        writers: list[WsClient] = []
        rows = {}
        for user in ("ann", "bob", "meg"):
            client = await connect(remote, await token_for(remote, user, USERS[user][1]))
            rows[client] = await client.create()
            writers.append(client)

        async def pipeline(client: WsClient) -> None:
            for i in range(2, 400):
                await client.mutate("add_note", {"id": rows[client]["id"], "text": f"note {i}"})

        await asyncio.gather(*(pipeline(c) for c in writers))
        # Kill the server once some notes are acknowledged, with many still in flight.
        await writers[0].recv_until("ack", where=lambda f: f["n"] >= 40, timeout=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for client in writers:
            await client.ws.wait_closed()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    acked = {c: {f["n"] for f in c.received if f["type"] == "ack"} for c in writers}
    server = await start_server(make_config(tmp_path), users=False)
    try:
        for client in writers:
            notes = Counter(n.text for n in server.store.state.requests[rows[client]["id"]].notes)
            for n in acked[client] - {1}:
                assert notes[f"note {n}"] == 1, f"acked note {n} lost"
            assert all(count == 1 for count in notes.values())
        # Each terminal reconnects and resends everything it has no answer for: still once each.
        for client, user in zip(writers, ("ann", "bob", "meg"), strict=True):
            token = await token_for(server, user, USERS[user][1])
            back = await connect(server, token, client_id=client.client_id, hello=False)
            welcome = await back.hello()
            assert welcome["last_mutation"] >= max(acked[client])
            for i in range(2, 400):
                if i not in acked[client]:
                    text = f"note {i}"
                    await back.mutate("add_note", {"id": rows[client]["id"], "text": text}, n=i)
            assert (await back.outcome(399, timeout=20))["type"] == "ack"
            notes = Counter(n.text for n in server.store.state.requests[rows[client]["id"]].notes)
            assert notes == Counter(f"note {i}" for i in range(2, 400))
            await back.close()
        if isinstance(server.store, SqliteStore):
            assert await server.store.integrity_check() == "ok"
    finally:
        await server.close()


async def test_a_dead_terminal_disappears_from_presence(tmp_path):
    server = await start_server(
        make_config(tmp_path, ping_interval=0.2, ping_timeout=0.2, close_timeout=0.2)
    )
    try:
        ann = await connect(server, await token_for(server, "ann", "ann-pass"), ping_interval=None)
        bob = await connect(server, await token_for(server, "bob", "bob-pass"))
        await bob.recv_until("presence", where=lambda f: len(f["users"]) == 2)
        ann.ws.transport.pause_reading()  # ann's terminal hangs: no more pongs
        gone = await bob.recv_until(
            "presence", where=lambda f: [u["user"] for u in f["users"]] == ["bob"], timeout=10
        )
        assert gone
        ann.ws.transport.abort()
        await bob.close()
    finally:
        await server.close()


async def test_a_terminal_that_stops_reading_is_closed_and_the_others_keep_going(tmp_path):
    config = make_config(tmp_path, send_buffer_max=64 * 1024, ping_interval=60, close_timeout=0.2)
    server = await start_server(config)
    try:
        ann = await connect(server, await token_for(server, "ann", "ann-pass"))
        bob = await connect(server, await token_for(server, "bob", "bob-pass"))
        # Small socket buffers on both ends, so the backlog shows up in the server quickly.
        bob.ws.transport.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)
        (bob_there,) = [s for s in server.hub.sessions if s.user == "bob"]
        bob_there.ws.transport.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)
        bob.ws.transport.pause_reading()  # bob's terminal is stuck
        long = "x" * 2000
        last = 0
        for _ in range(1500):
            last = await ann.mutate(
                "create_request",
                {
                    "id": str(uuid.uuid4()),
                    "room": "1",
                    "category": "other",
                    "description": long,
                    "priority": "low",
                },
            )
            if bob_there.closing:
                break
        assert (await ann.outcome(last, timeout=30))["type"] == "ack"
        await wait_for(lambda: not [s for s in server.hub.sessions if s.user == "bob"], 10)
        bob.ws.transport.resume_reading()
        await bob.ws.wait_closed()
        assert bob.ws.close_code in (1013, 1006)  # 1006 if the close frame itself was stuck
        await ann.close()
    finally:
        await server.close()


@pytest.mark.sqlite_only
async def test_the_wal_is_checkpointed_by_the_server_not_by_commits(tmp_path):
    server = await start_server(make_config(tmp_path, checkpoint_seconds=0.05))
    try:
        ann = await connect(server, await token_for(server, "ann", "ann-pass"))
        for _ in range(20):
            await ann.create()
        runs = server.job_runs["checkpoint"]
        await wait_for(lambda: server.job_runs["checkpoint"] >= runs + 2)
        pages, done = await server.store.checkpoint()
        assert pages == done
        await ann.close()
    finally:
        await server.close()


@pytest.mark.sqlite_only  # the keepalive is the same on both stores; see docs/RELIABILITY.md
async def test_a_stuck_terminal_is_dropped_without_holding_up_the_others(tmp_path):
    config = make_config(
        tmp_path, ping_interval=0.2, ping_timeout=0.3, close_timeout=0.2, send_buffer_max=2**30
    )
    server = await start_server(config)
    try:
        bob = await connect(server, await token_for(server, "bob", "bob-pass"))
        bob.ws.transport.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)
        (bob_there,) = [s for s in server.hub.sessions if s.user == "bob"]
        bob_there.ws.transport.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)
        bob.ws.transport.pause_reading()
        ann = await connect(server, await token_for(server, "ann", "ann-pass"))
        while write_backlog(bob_there.ws) < 64 * 1024:
            await ann.create(description="y" * 2000)
        await wait_for(lambda: bob_there not in server.hub.sessions, 5, "stuck bob not dropped")
        runs = server.job_runs["keepalive"]
        await wait_for(lambda: server.job_runs["keepalive"] >= runs + 3)
        assert [s.user for s in server.hub.sessions] == ["ann"]
        await ann.create()
        await ann.close()
        bob.ws.transport.abort()
    finally:
        await server.close()
