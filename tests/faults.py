"""A fault-injecting TCP proxy for tests: delays, stalls and cuts connections at random.

It sits on 127.0.0.1 between clients and a server and forwards bytes both ways. Each accepted
connection gets a *plan* drawn from its own ``random.Random(f"{seed}:{index}")``, so the same seed
gives the same plan to the n-th connection on every run (timing still varies, so a run is as
reproducible as a network test can be). The seed is printed; set ``FRONTDESK_FAULT_SEED`` to
replay one.

A plan is any mix of:

- ``delay``: every chunk waits this long before it is forwarded (order is kept);
- ``cut_after``: after this many bytes (both directions together) the connection is aborted,
  mid-frame if that is where the count falls (the peer sees a torn WebSocket frame);
- ``stall_after``: after this many bytes nothing more is forwarded (the bytes are dropped) for
  ``stall_seconds``, then the connection is aborted: a network that silently stops.

``outage(True)`` cuts every open connection and refuses new ones (accepted, then reset at once)
until ``outage(False)``: a server or a network that is gone. ``hold_downstream(True)`` keeps
forwarding client → server but holds server → client bytes back (a client that never hears the
answer to what it sent); ``cut_all()`` aborts every open connection now.

Only loopback: the proxy listens on 127.0.0.1 and forwards to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from dataclasses import dataclass, field

CHUNK = 16 * 1024


@dataclass
class FaultPlan:
    """What happens to one connection."""

    delay: float = 0.0
    cut_after: int | None = None
    stall_after: int | None = None

    def describe(self) -> str:
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay * 1000:.0f} ms")
        if self.cut_after is not None:
            parts.append(f"cut after {self.cut_after} B")
        if self.stall_after is not None:
            parts.append(f"stall after {self.stall_after} B")
        return ", ".join(parts) or "clean"


@dataclass
class FaultCounts:
    """How many faults the proxy actually injected (figures for the report)."""

    connections: int = 0
    delayed: int = 0
    cut: int = 0
    stalled: int = 0
    refused: int = 0
    cut_by_hand: int = 0
    bytes: int = 0

    @property
    def total(self) -> int:
        return self.delayed + self.cut + self.stalled + self.refused + self.cut_by_hand


@dataclass(eq=False)
class _Link:
    index: int
    plan: FaultPlan
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    sent: int = 0
    done: bool = False
    delay_counted: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


def pick_seed() -> int:
    """The seed from ``FRONTDESK_FAULT_SEED``, or a fresh random one."""
    value = os.environ.get("FRONTDESK_FAULT_SEED")
    return int(value) if value else random.SystemRandom().randrange(1, 2**31)


class FaultyProxy:
    """``await FaultyProxy(upstream_port, seed).start()``; clients connect to ``proxy.url``."""

    def __init__(
        self,
        upstream_port: int,
        seed: int,
        *,
        cut_rate: float = 0.0,
        stall_rate: float = 0.0,
        delay_rate: float = 0.0,
        max_delay: float = 0.01,
        cut_bytes: tuple[int, int] = (300, 40_000),
        stall_seconds: float = 0.3,
    ) -> None:
        self.upstream_port = upstream_port
        self.seed = seed
        self.cut_rate = cut_rate
        self.stall_rate = stall_rate
        self.delay_rate = delay_rate
        self.max_delay = max_delay
        self.cut_bytes = cut_bytes
        self.stall_seconds = stall_seconds
        self.counts = FaultCounts()
        self.plans: list[FaultPlan] = []
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._outage = False
        self._hold = False
        self._released = asyncio.Event()
        self._released.set()
        self.faults_on = True

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        print(f"fault proxy seed: {self.seed} (replay with FRONTDESK_FAULT_SEED={self.seed})")
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, like ``FrontdeskServer.url``."""
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        tasks = [t for link in list(self._links) for t in link.tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- switches --------------------------------------------------------------------------------

    def outage(self, on: bool = True) -> None:
        """Refuse every connection (and cut the open ones) until called with False."""
        self._outage = on
        if on:
            self.cut_all()

    def cut_all(self) -> int:
        """Abort every open connection now; returns how many."""
        links = [link for link in self._links if not link.done]
        for link in links:
            link.abort()
        self.counts.cut_by_hand += len(links)
        return len(links)

    def hold_downstream(self, on: bool = True) -> None:
        """Hold server → client bytes back (they are forwarded when released, unless cut)."""
        self._hold = on
        if on:
            self._released.clear()
        else:
            self._released.set()

    @property
    def open_connections(self) -> int:
        return sum(1 for link in self._links if not link.done)

    # -- plans -----------------------------------------------------------------------------------

    def plan_for(self, index: int) -> FaultPlan:
        """The plan of the ``index``-th connection: a function of the seed and the index only."""
        rng = random.Random(f"{self.seed}:{index}")
        plan = FaultPlan()
        roll_delay, roll_cut, roll_stall = rng.random(), rng.random(), rng.random()
        if roll_delay < self.delay_rate:
            plan.delay = rng.uniform(0.0005, self.max_delay)
        if roll_cut < self.cut_rate:
            plan.cut_after = rng.randint(*self.cut_bytes)
        elif roll_stall < self.stall_rate:
            plan.stall_after = rng.randint(*self.cut_bytes)
        return plan

    # -- forwarding ------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.counts.connections
        self.counts.connections += 1
        if self._outage:
            self.counts.refused += 1
            writer.transport.abort()
            return
        plan = self.plan_for(index) if self.faults_on else FaultPlan()
        self.plans.append(plan)
        link = _Link(index, plan, writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()  # the server is down: so is the connection
            return
        link.upstream = up_writer
        if self._outage:
            link.abort()
            self.counts.refused += 1
            return
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer, downstream=False)),
            asyncio.create_task(self._pump(link, up_reader, writer, downstream=True)),
        ]
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            link.abort()
            self._links.discard(link)

    async def _pump(
        self,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        downstream: bool,
    ) -> None:
        plan = link.plan
        try:
            while not link.done:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if downstream and self._hold:
                    await self._released.wait()
                if plan.delay:
                    if not link.delay_counted:
                        link.delay_counted = True
                        self.counts.delayed += 1
                    await asyncio.sleep(plan.delay)  # the injected latency itself
                if link.done:
                    return
                before = link.sent
                link.sent += len(data)
                if plan.cut_after is not None and link.sent >= plan.cut_after:
                    writer.write(data[: max(0, plan.cut_after - before)])  # a torn frame
                    self.counts.cut += 1
                    link.abort()
                    return
                if plan.stall_after is not None and link.sent >= plan.stall_after:
                    self.counts.stalled += 1
                    # Drop everything from here on; then give up, as a dead route eventually does.
                    await asyncio.sleep(self.stall_seconds)
                    link.abort()
                    return
                self.counts.bytes += len(data)
                writer.write(data)
                await writer.drain()
            if not link.done and writer.can_write_eof():
                writer.write_eof()  # pass a clean half-close on
        except (ConnectionError, OSError):
            link.abort()
