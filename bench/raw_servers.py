"""Raw-library baselines: what plain ``websockets`` and plain ``aiosqlite`` do on this machine.

Each runs alone in its own process, like the frontdesk server does:

    python -m bench.raw_servers creates --data-dir DIR   # commit each create, then ack it
    python -m bench.raw_servers broadcast                # websockets.broadcast every frame
    python -m bench.raw_servers idle                     # accept and hold, compression off
    python -m bench.raw_servers answer                   # parse each create, answer an ack

and prints ``raw: listening on ws://127.0.0.1:PORT`` once it accepts connections. All three turn
compression off: the baselines are the best the libraries do, not their defaults.

The ``answer`` server is a ceiling, not a baseline: it parses each ``mutate`` with
``json.loads`` and answers an ``ack`` carrying a request row the size of frontdesk's, with no
checks and no database. No server built on ``websockets`` and ``json`` can acknowledge creates
faster than it on this machine with this load generator beside it.

The ``creates`` server is the naive way to be durable: per mutation one INSERT and one COMMIT,
awaited before the ack, with the same WAL + ``synchronous=NORMAL`` durability as the frontdesk
store. It checks nothing (no auth, no validation), which only flatters the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

import aiosqlite
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.harness import raise_nofile

MAX_SIZE = 1024 * 1024


async def _creates_handler(db: aiosqlite.Connection, ws: ServerConnection) -> None:
    async for message in ws:
        frame = json.loads(message)
        if frame.get("type") != "mutate":
            continue
        args = frame["args"]
        cursor = await db.execute(
            "INSERT INTO requests (id, room, data) VALUES (?, ?, ?)",
            (args["id"], args["room"], json.dumps(args)),
        )
        await db.commit()
        await ws.send(json.dumps({"type": "ack", "n": frame["n"], "seq": cursor.lastrowid}))


_ANSWER_ROW = json.dumps(
    {
        "id": "c810b8d3-5bf5-443d-859f-000000000005",
        "number": 1,
        "room": "105",
        "category": "housekeeping",
        "description": "Bench row 000005: two extra towels and a toothbrush kit, please",
        "guest_name": "Bench Guest",
        "priority": "normal",
        "status": "pending",
        "assignee": None,
        "created_by": "bench",
        "created_at": "2026-11-22T19:00:00.000000Z",
        "updated_at": "2026-11-22T19:00:00.000000Z",
        "due_at": "2026-11-22T20:00:00.000000Z",
        "version": 1,
        "notes": [],
        "acknowledged_at": None,
        "started_at": None,
        "completed_at": None,
        "field_versions": {},
    },
    separators=(",", ":"),
)
"""A request row as frontdesk acks it (same fields, same length)."""


async def _answer_handler(ws: ServerConnection) -> None:
    seq = 0
    async for message in ws:
        frame = json.loads(message)
        seq += 1
        await ws.send(f'{{"type":"ack","n":{frame["n"]},"seq":{seq},"request":{_ANSWER_ROW}}}')


async def _broadcast_handler(clients: set[ServerConnection], ws: ServerConnection) -> None:
    clients.add(ws)
    try:
        async for message in ws:
            broadcast(clients, message)
    finally:
        clients.discard(ws)


async def _idle_handler(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def main(kind: str, port: int, data_dir: Path | None) -> None:
    raise_nofile()
    db = None
    if kind == "creates":
        if data_dir is None:
            raise SystemExit("creates needs --data-dir")
        data_dir.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(data_dir / "raw.sqlite3")
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS requests "
            "(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, room TEXT, data TEXT)"
        )
        await db.commit()
        handler = lambda ws: _creates_handler(db, ws)  # noqa: E731
    elif kind == "broadcast":
        clients: set[ServerConnection] = set()
        handler = lambda ws: _broadcast_handler(clients, ws)  # noqa: E731
    elif kind == "answer":
        handler = _answer_handler
    else:
        handler = _idle_handler
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        max_size=MAX_SIZE,
        ping_interval=None,
        backlog=2048,
    ) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"raw: listening on ws://127.0.0.1:{bound}", flush=True)
        await stop.wait()
    if db is not None:
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["creates", "broadcast", "idle", "answer"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    ns = parser.parse_args()
    asyncio.run(main(ns.kind, ns.port, ns.data_dir))
