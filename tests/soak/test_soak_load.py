"""1,000 open terminals, a steady 50 edits a second for a minute, one terminal that never reads.

``make soak`` only. A real ``frontdesk serve`` process; 1,000 WebSocket connections from this
process (the test raises its own open-files limit). Like a hotel's desks, most connections
follow their floor (``subscribe room:<room>``) and 50 follow everything (``all``); one more
``all`` connection never reads a byte (a terminal on a frozen network). One writer makes 50
creates a second for 60 s across 100 rooms. Every change must reach every connection that
subscribed to it, with 0 error frames and 0 unexpected closes, and the slow consumer must not
hold the others up: the fan-out latency (mutation sent → change received) p50/p99 is printed
and p99 must stay under two seconds (the 1,000 clients share the 2 cores with the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import USERS
from helpers import connect, spawn_serve, token_for, wait_for
from websockets.exceptions import ConnectionClosed

from backend.accounts import add_user

CONNECTIONS = 1000
FOLLOW_ALL = 50
ROOMS = 100
RATE = 50
SECONDS = 60


@dataclass
class Listener:
    channel: str
    seen: dict[str, float] = field(default_factory=dict)
    """request id → when its change arrived (perf_counter)."""
    errors: int = 0
    closed: str | None = None


async def listen(client, listener: Listener) -> None:
    try:
        async for raw in client.ws:
            frame = json.loads(raw)
            kind = frame["type"]
            if kind == "change":
                listener.seen.setdefault(frame["request"]["id"], time.perf_counter())
            elif kind == "error":
                listener.errors += 1
    except ConnectionClosed as exc:
        listener.closed = str(exc)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.mark.soak
@pytest.mark.timeout(600)
async def test_a_thousand_terminals_get_every_change_while_one_never_reads(tmp_path: Path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * CONNECTIONS:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8 * CONNECTIONS), hard))
    data_dir = tmp_path / "server"
    await add_user(data_dir, "ann", "staff", USERS["ann"][1])
    await add_user(data_dir, "desk", "staff", "desk-pass")
    env = {"FRONTDESK_MAX_CONNECTIONS_PER_USER": str(CONNECTIONS * 2)}
    proc, url = await spawn_serve(data_dir, tmp_path / "serve.log", env=env)
    server = type("Remote", (), {"url": url})()
    clients = []
    tasks = []
    try:
        token = await token_for(server, "desk", "desk-pass")
        listeners: list[Listener] = []
        for i in range(CONNECTIONS):
            channel = "all" if i < FOLLOW_ALL else f"room:{i % ROOMS}"
            client = await connect(server, token, max_queue=None)
            if channel != "all":
                await client.send({"type": "subscribe", "channels": [channel]})
                await client.recv_until("subscribed")
            listener = Listener(channel)
            listeners.append(listener)
            clients.append(client)
            tasks.append(asyncio.create_task(listen(client, listener)))
        slow = await connect(server, token)  # says hello, then never reads again
        slow.ws.transport.pause_reading()

        writer = await connect(server, await token_for(server, "ann", USERS["ann"][1]))
        sent: dict[str, tuple[str, float]] = {}
        loop = asyncio.get_running_loop()
        start = loop.time()
        total = RATE * SECONDS
        for k in range(total):
            await asyncio.sleep(max(0.0, start + k / RATE - loop.time()))  # the steady rate
            rid = str(uuid.uuid4())
            room = str(k % ROOMS)
            sent[rid] = (room, time.perf_counter())
            await writer.mutate(
                "create_request",
                {
                    "id": rid,
                    "room": room,
                    "category": "housekeeping",
                    "description": f"load {k}",
                    "priority": "normal",
                },
            )
        expected = {
            id(lst): {
                rid for rid, (room, _) in sent.items() if lst.channel in ("all", f"room:{room}")
            }
            for lst in listeners
        }
        await wait_for(
            lambda: all(expected[id(lst)] <= lst.seen.keys() for lst in listeners),
            timeout=60,
            message="some changes never arrived",
        )
        acks = [f for f in writer.received if f["type"] == "ack"]
        elapsed = loop.time() - start
        latencies = [
            when - sent[rid][1]
            for lst in listeners
            for rid, when in lst.seen.items()
            if rid in sent
        ]
        delivered = len(latencies)
        errors = sum(lst.errors for lst in listeners)
        closed = sum(1 for lst in listeners if lst.closed)
        print(
            f"load: connections={CONNECTIONS + 2} mutations={total} in {elapsed:.0f} s "
            f"deliveries={delivered} errors={errors} unexpected_closes={closed} "
            f"fanout_p50={percentile(latencies, 0.5) * 1000:.1f} ms "
            f"p99={percentile(latencies, 0.99) * 1000:.1f} ms "
            f"max={max(latencies) * 1000:.1f} ms slow_consumer_close={slow.ws.close_code}"
        )
        assert errors == 0 and closed == 0
        assert delivered == sum(len(e) for e in expected.values())
        assert percentile(latencies, 0.99) < 2.0  # generous: 2 shared cores, client included
        await writer.outcome(writer.n, timeout=30)
        assert len([f for f in writer.received if f["type"] == "ack"]) >= len(acks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            with contextlib.suppress(Exception):
                client.ws.transport.abort()
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
