"""Load generators, each run in its own process so its event loop never shares the server's.

    python -m bench.loadgen creates  --url WS --token T --clients 8 --inflight 256 --count N
    python -m bench.loadgen latency  --url WS --token T --listeners 200 --messages 100
    python -m bench.loadgen idle     --url WS --token T --connections 1000

``--url`` may be given more than once (several instances of one service): ``creates`` spreads its
clients and ``latency`` its listeners over them in turn, and the latency sender uses the first.
``--token`` (frontdesk) makes each connection sign in with ``Authorization: Bearer`` and say
``hello`` (waiting for ``synced``) like a real client; without it the peer is a raw baseline
server that speaks no protocol. The result is one JSON line on stdout. ``idle`` prints
``ready {...}`` once every connection is open, holds them until a line arrives on stdin, then
closes them. Every loop is bounded by a count and by ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.harness import percentile, raise_nofile

QUIET_CHANNEL = "room:bench-quiet"
"""A room nobody creates requests in: writers subscribe to it so they measure the write path."""
DESCRIPTION = "Bench row {n:06d}: two extra towels and a toothbrush kit, please"
"""Row text the TUI benchmarks filter on and look for on screen."""


class Stamp:
    """What a latency run is waiting for, and when each connection's bytes for it arrived
    (``far_sink``: connections to another instance than the sender's)."""

    needle: bytes = b"\x00"
    sink: list[float] | None = None
    far_sink: list[float] | None = None


STAMP = Stamp()


class StampedConnection(ClientConnection):
    """Notes the arrival time as the bytes come off the socket, before any frame parsing.

    The load generator then measures delivery, not how long its own event loop took to get
    round to 500 listener tasks (which is the same for both servers, and large)."""

    far = False
    """Connected to another instance than the latency sender (stamped into ``far_sink``)."""

    def data_received(self, data: bytes) -> None:
        if STAMP.sink is not None and STAMP.needle in data:
            sink = STAMP.far_sink if self.far and STAMP.far_sink is not None else STAMP.sink
            sink.append(time.perf_counter())
        super().data_received(data)


@dataclass
class Peer:
    url: str
    token: str | None

    @property
    def frontdesk(self) -> bool:
        return self.token is not None


def create_frame(client_id: str, n: int, request_id: str | None = None) -> str:
    """A ``mutate`` frame with ``create_request`` args, as the offline engine sends it."""
    return json.dumps(
        {
            "type": "mutate",
            "client_id": client_id,
            "n": n,
            "name": "create_request",
            "args": {
                "id": request_id or str(uuid.uuid4()),
                "room": str(100 + n % 900),
                "category": "housekeeping",
                "description": DESCRIPTION.format(n=n),
                "priority": "normal",
                "guest_name": "Bench Guest",
            },
        },
        separators=(",", ":"),
    )


class CreateFrames:
    """``create_frame`` for one client, by filling in a template: a real client runs on its own
    machine, so the load generator must not spend more per frame than it has to (building each
    frame with ``json.dumps`` and ``uuid4`` cost it more CPU than the server's recv and send)."""

    def __init__(self, client_id: str) -> None:
        marker_n, marker_id = 987654321, "00000000-0000-4000-8000-00000000cafe"
        template = create_frame(client_id, marker_n, marker_id)
        # Each marker is replaced with its JSON key around it: a bare "721" (the marker's room)
        # also matched inside a random client_id, which then went out wrong in every frame
        # (wrong_client, rate_limited, a round that never finished: 1 client in ~140).
        room = f'"room":"{100 + marker_n % 900}"'
        description = json.dumps(DESCRIPTION.format(n=marker_n))
        self._template = (
            template.replace("{", "{{")
            .replace("}", "}}")
            .replace(f'"id":"{marker_id}"', '"id":"{id}"')
            .replace(f'"n":{marker_n},', '"n":{n},')
            .replace(room, '"room":"{room}"')
            .replace(
                f'"description":{description}',
                '"description":' + json.dumps(DESCRIPTION),
            )
        )
        self._prefix = uuid.uuid4().hex[:20]
        check = json.loads(self.build(7))
        if check != json.loads(create_frame(client_id, 7, check["args"]["id"])):
            raise ValueError(f"the frame template does not hold for client {client_id!r}")

    def build(self, n: int) -> str:
        """The frame ``create_frame(client_id, n)`` would make, with a fresh canonical UUID."""
        h = f"{self._prefix}{n:012x}"
        rid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"
        return self._template.format(id=rid, n=n, room=100 + n % 900)


def answer_kind(message: str | bytes) -> str | None:
    """The ``type`` of a server frame, read from its first bytes when they name it (frontdesk
    and the raw server both put ``type`` first); parsed in full only otherwise."""
    head = message[:16] if isinstance(message, str) else message[:16].decode(errors="replace")
    for kind in ("ack", "reject", "error"):
        if f'"{kind}"' in head:
            return kind
    frame = json.loads(message)
    return frame.get("type") if isinstance(frame, dict) else None


async def open_peer(
    peer: Peer, *, quiet: bool = False, stamped: bool = False
) -> tuple[ClientConnection, str]:
    """Connect; for frontdesk, sign in, say ``hello``, wait for ``synced`` (and ``subscribed``)."""
    headers = {"Authorization": f"Bearer {peer.token}"} if peer.token else None
    ws = await connect(
        peer.url,
        additional_headers=headers,
        proxy=None,
        compression=None,  # as the offline engine connects
        max_size=2 * 1024 * 1024,
        ping_interval=None,
        open_timeout=30,
        max_queue=None,
        create_connection=StampedConnection if stamped else None,
    )
    client_id = str(uuid.uuid4())
    if peer.frontdesk:
        await ws.send(json.dumps({"type": "hello", "v": 1, "client_id": client_id, "last_seq": 0}))
        await _until(ws, "synced", 60)
        if quiet:
            await ws.send(json.dumps({"type": "subscribe", "channels": [QUIET_CHANNEL]}))
            await _until(ws, "subscribed", 10)
    return ws, client_id


async def _until(ws: ClientConnection, kind: str, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(f"server error while waiting for {kind}: {frame}")


async def open_many(
    peer: Peer | list[Peer],
    count: int,
    *,
    quiet: bool = False,
    stamped: bool = False,
    batch: int = 50,
) -> list:
    """``count`` connections, opened ``batch`` at a time so the accept backlog never overflows;
    given several peers, connection ``i`` goes to ``peers[i % len(peers)]``."""
    peers = peer if isinstance(peer, list) else [peer]
    opened: list[tuple[ClientConnection, str]] = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        opened += await asyncio.gather(
            *(
                open_peer(peers[i % len(peers)], quiet=quiet, stamped=stamped)
                for i in range(start, start + size)
            )
        )
    return opened


# creates ---------------------------------------------------------------------------------------


async def _room_or_end(window: asyncio.Semaphore, reader: asyncio.Task[None]) -> bool:
    """Wait until ``window`` has room (True) or ``reader`` has ended (False): a server that
    closes the connection must end the run, not leave the sender waiting for ever."""
    if reader.done():
        return False
    room = asyncio.ensure_future(window.acquire())
    await asyncio.wait({room, reader}, return_when=asyncio.FIRST_COMPLETED)
    if room.done():
        window.release()  # the caller takes it
        return True
    room.cancel()
    return False


async def creates(
    peers: list[Peer], clients: int, inflight: int, count: int, duration: float
) -> dict[str, Any]:
    """``clients`` connections (spread over ``peers``), each keeping ``inflight`` creates
    unacked, ``count`` in total."""
    conns = await open_many(peers, clients, quiet=True)
    per_client = count // clients
    start = asyncio.Event()
    stats: dict[str, Any] = {"acked": 0, "rejected": 0, "other": 0, "first_problem": None}
    by_peer = [0] * len(peers)

    async def one(ws: ClientConnection, client_id: str, peer_index: int) -> None:
        window = asyncio.Semaphore(inflight)
        frames = CreateFrames(client_id)
        finished = asyncio.Event()
        sent = answered = 0
        stop_sending = False

        async def reader() -> None:
            nonlocal answered
            async for message in ws:
                kind = answer_kind(message)
                if kind == "ack":
                    stats["acked"] += 1
                    by_peer[peer_index] += 1
                elif kind in ("reject", "error"):
                    stats["rejected"] += 1
                    stats["first_problem"] = stats["first_problem"] or json.loads(message)
                else:
                    stats["other"] += 1
                    continue
                answered += 1
                window.release()
                if stop_sending and answered >= sent:
                    finished.set()
                    return

        task = asyncio.create_task(reader())
        await start.wait()
        deadline = time.perf_counter() + duration
        for n in range(1, per_client + 1):
            if window.locked() and not await _room_or_end(window, task):
                break  # the connection ended: no answer will free the window any more
            await window.acquire()
            if time.perf_counter() > deadline or task.done():
                break
            await ws.send(frames.build(n))
            sent += 1
        stop_sending = True
        if answered >= sent:
            finished.set()
        try:
            async with asyncio.timeout(max(5.0, duration)):
                await finished.wait()
        finally:
            task.cancel()
            await ws.close()

    tasks = [asyncio.create_task(one(ws, cid, i % len(peers))) for i, (ws, cid) in enumerate(conns)]
    await asyncio.sleep(0.2)  # let every reader task start before the clock does
    t0, cpu0 = time.perf_counter(), time.process_time()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    per_second = stats["acked"] / elapsed
    return {
        **stats,
        "acked_by_peer": by_peer,
        "elapsed": elapsed,
        "per_second": per_second,
        "cpu_s": cpu,
    }


# latency ---------------------------------------------------------------------------------------


async def latency(
    peers: list[Peer], listeners: int, messages: int, warmup: int, duration: float
) -> dict[str, Any]:
    """One sender, ``listeners`` receivers in this process, one clock: send → each receipt.

    Two figures: ``p50_ms``/``p99_ms`` from the moment each listener's bytes came off its
    socket (``StampedConnection``), and ``task_p50_ms``/``task_p99_ms`` from when each
    listener task got the frame (includes this process working through the other listeners).
    With several peers the listeners are spread over them and the sender talks to the first;
    ``far_p50_ms``/``far_p99_ms`` are the listeners on the others alone.
    """
    conns = await open_many(peers, listeners, stamped=True)
    for i, (ws, _) in enumerate(conns):
        ws.far = i % len(peers) != 0  # type: ignore[attr-defined]  # a StampedConnection
    sender, sender_id = await open_peer(peers[0], quiet=True)
    far_samples: list[float] = []
    samples: list[float] = []
    task_samples: list[float] = []
    state: dict[str, Any] = {"rid": "", "sent": 0.0, "received": 0, "counting": False}
    all_in = asyncio.Event()

    async def listen(ws: ClientConnection) -> None:
        # One message is in flight at a time, so a substring test finds it: no JSON parsing.
        async for message in ws:
            now = time.perf_counter()
            if state["rid"] not in message:
                continue
            if state["counting"]:
                task_samples.append((now - state["sent"]) * 1000)
            state["received"] += 1
            if state["received"] == listeners:
                all_in.set()

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    tasks = [asyncio.create_task(listen(ws)) for ws, _ in conns]
    tasks.append(asyncio.create_task(drain(sender)))
    missing = unstamped = done = 0
    deadline = time.perf_counter() + duration
    for n in range(1, warmup + messages + 1):
        if time.perf_counter() > deadline:
            break
        rid = str(uuid.uuid4())
        frame = create_frame(sender_id, n, rid)
        arrivals: list[float] = []
        far_arrivals: list[float] = []
        all_in.clear()
        state.update(rid=rid, received=0, counting=n > warmup)
        STAMP.needle, STAMP.sink, STAMP.far_sink = rid.encode(), arrivals, far_arrivals
        state["sent"] = sent = time.perf_counter()
        await sender.send(frame)
        try:
            async with asyncio.timeout(5):
                await all_in.wait()
        except TimeoutError:
            missing += listeners - state["received"]
        STAMP.sink = STAMP.far_sink = None
        if n > warmup:
            far = [(t - sent) * 1000 for t in far_arrivals]
            samples.extend((t - sent) * 1000 for t in arrivals)
            samples.extend(far)
            far_samples.extend(far)
            unstamped += max(0, state["received"] - len(arrivals) - len(far_arrivals))
        done += 1
        await asyncio.sleep(0.005)  # pacing: measure delivery, not a queue we built ourselves
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws, _ in [*conns, (sender, sender_id)]))

    def pct(values: list[float], p: float) -> float | None:
        return percentile(values, p) if values else None

    return {
        "listeners": listeners,
        "messages": max(0, done - warmup),
        "samples": len(samples),
        "missing": missing,
        "unstamped": unstamped,
        "p50_ms": pct(samples, 50),
        "p99_ms": pct(samples, 99),
        "max_ms": max(samples) if samples else None,
        "task_p50_ms": pct(task_samples, 50),
        "task_p99_ms": pct(task_samples, 99),
        "far_p50_ms": pct(far_samples, 50),
        "far_p99_ms": pct(far_samples, 99),
        "far_samples_ms": [round(x, 3) for x in far_samples],
        "samples_ms": [round(x, 3) for x in samples],
        "task_samples_ms": [round(x, 3) for x in task_samples],
    }


# idle ------------------------------------------------------------------------------------------


async def idle(peer: Peer, connections: int) -> dict[str, Any]:
    """Open ``connections`` and hold them idle until stdin says so."""
    t0 = time.perf_counter()
    conns = await open_many(peer, connections, quiet=False)
    opened = time.perf_counter() - t0

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    tasks = [asyncio.create_task(drain(ws)) for ws, _ in conns]
    print("ready " + json.dumps({"connections": len(conns), "open_s": opened}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    closed = sum(1 for t in tasks if t.done())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws, _ in conns), return_exceptions=True)
    return {"connections": len(conns), "closed_by_server": closed, "open_s": opened}


# poke ------------------------------------------------------------------------------------------


async def poke(peer: Peer) -> dict[str, Any]:
    """Edit requests on command: each stdin line ``ID VERSION TEXT`` becomes an
    ``update_request`` of the description; prints ``sent <perf_counter>`` after each send."""
    ws, client_id = await open_peer(peer, quiet=True)
    answers = {"ack": 0, "other": 0}

    async def drain() -> None:
        async for message in ws:
            answers["ack" if json.loads(message).get("type") == "ack" else "other"] += 1

    task = asyncio.create_task(drain())
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    n = 0
    while n < 10_000:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        rid, version, text = line.rstrip("\n").split(" ", 2)
        n += 1
        frame = {
            "type": "mutate",
            "client_id": client_id,
            "n": n,
            "name": "update_request",
            "args": {"id": rid, "changes": {"description": text}},
            "base_version": int(version),
        }
        await ws.send(json.dumps(frame))
        print(f"sent {time.perf_counter()}", flush=True)
    task.cancel()
    await ws.close()
    return {"sent": n, **answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["creates", "latency", "idle", "poke"])
    parser.add_argument("--url", required=True, action="append", help="again: another instance")
    parser.add_argument("--token", default=None)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--inflight", type=int, default=256)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--listeners", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    ns = parser.parse_args()
    raise_nofile()
    peers = [Peer(url, ns.token) for url in ns.url]
    peer = peers[0]
    if ns.kind == "creates":
        coro = creates(peers, ns.clients, ns.inflight, ns.count, ns.duration)
    elif ns.kind == "latency":
        coro = latency(peers, ns.listeners, ns.messages, ns.warmup, ns.duration)
    elif ns.kind == "poke":
        coro = poke(peer)
    else:
        coro = idle(peer, ns.connections)
    print(json.dumps(asyncio.run(coro)), flush=True)


if __name__ == "__main__":
    main()
