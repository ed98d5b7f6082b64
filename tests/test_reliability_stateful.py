"""Hypothesis drives the desk: edits, network cuts, outages, server and terminal restarts.

A ``RuleBasedStateMachine`` picks, step by step, what happens next: a terminal makes a random
edit, the network blips (every connection cut mid-frame), an outage starts or ends, the server
restarts on its data, or a terminal is closed and reopened on its replica (pending edits kept).
At the end of each run the network heals and the invariants of issue 7 must hold: every
replica equals the server, no mutation lost, none applied twice, each client's in ``n`` order,
every refusal told. Hypothesis shrinks any failure to the shortest story that breaks them.

The server, the proxy and the engines live on one event loop in a thread; the rules (which
hypothesis calls synchronously) hand coroutines to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

from faults import FaultyProxy
from helpers import token_for, wait_for
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from offline_kit import Restartable, drained, online, open_engine
from reliability_kit import Audit, Desk, differing, note_counts, server_rows

from protocol import Role

USERS = ("ann", "bob", "meg")
FAST = {"backoff_base": 0.02, "backoff_cap": 0.2}
EXAMPLES = int(os.environ.get("FRONTDESK_STATEFUL_EXAMPLES", "2"))
STEPS = int(os.environ.get("FRONTDESK_STATEFUL_STEPS", "15"))


class LoopThread:
    """An event loop on its own thread: ``call(coro)`` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 60) -> Any:
        name = getattr(coro, "__qualname__", repr(coro))
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"{name} did not finish within {timeout} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class DeskMachine(RuleBasedStateMachine):
    """Three terminals (bob's believes he is a manager) through a proxy to one server."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = LoopThread()
        self.tmp = Path(tempfile.mkdtemp(prefix="frontdesk-stateful-"))
        self.box = Restartable(self.tmp)
        self.proxy: FaultyProxy | None = None
        self.desks: list[Desk] = []
        self.restarts = 0
        self.faults = 0

    @initialize(seed=st.integers(0, 2**31))
    def open_the_desk(self, seed: int) -> None:
        async def start() -> None:
            server = await self.box.start()
            self.proxy = await FaultyProxy(self.box.port, seed).start()
            for user in USERS:
                self.desks.append(Desk(user, await self._engine(user), random.Random(seed)))
            del server

        self.runner.call(start())

    async def _engine(self, user: str):
        assert self.proxy is not None and self.box.server is not None
        role = Role.MANAGER if user == "bob" else None
        token = await token_for(self.box.server, user, f"{user}-pass")
        return await open_engine(
            self.tmp, None, user, role=role, url=self.proxy.url, token=token, **FAST
        )

    # -- what can happen ---------------------------------------------------------------------

    @rule(desk=st.integers(0, 2), seed=st.integers(0, 2**31), times=st.integers(1, 4))
    def edit(self, desk: int, seed: int, times: int) -> None:
        chosen = self.desks[desk]
        chosen.rng = random.Random(seed)

        async def act() -> None:
            known = sorted({r.id for d in self.desks for r in d.engine.requests()})
            for _ in range(times):
                await chosen.act(known)

        self.runner.call(act())

    @rule(desk=st.integers(0, 2), seed=st.integers(0, 2**31))
    def busy_minute(self, desk: int, seed: int) -> None:
        """Edits are the common case: a second rule makes them likelier than any fault."""
        self.edit(desk, seed, 8)

    @rule()
    def network_blip(self) -> None:
        assert self.proxy is not None
        self.runner.loop.call_soon_threadsafe(self.proxy.cut_all)
        self.faults += 1

    @rule(on=st.booleans())
    def outage(self, on: bool) -> None:
        assert self.proxy is not None
        self.runner.loop.call_soon_threadsafe(self.proxy.outage, on)
        self.faults += int(on)

    @rule()
    def restart_server(self) -> None:
        async def restart() -> None:
            await self.box.stop()
            await self.box.start()

        self.runner.call(restart())
        self.restarts += 1

    @rule(desk=st.integers(0, 2))
    def restart_terminal(self, desk: int) -> None:
        old = self.desks[desk]

        async def reopen() -> None:
            await old.engine.close()
            old.engine = await self._engine(old.name)
            old.engine.subscribe(old.events.append)

        self.runner.call(reopen())

    # -- the end of every story ----------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.desks:
                self.runner.call(self._heal_and_check(), timeout=120)
        finally:
            self.runner.call(self._close_all())
            self.runner.stop()

    async def _heal_and_check(self) -> None:
        assert self.proxy is not None and self.box.server is not None
        self.proxy.outage(False)
        self.proxy.cut_all()
        for desk in self.desks:
            await desk.engine.sync_now()
        await wait_for(
            lambda: all(drained(d.engine) and online(d.engine) for d in self.desks),
            timeout=30,
            message="outboxes did not drain",
        )
        server = self.box.server
        token = await token_for(server, "meg", "meg-pass")
        rows: dict = {}

        async def agreed() -> bool:
            nonlocal rows
            rows = await server_rows(server.url, token)
            return all(not differing(d.engine, rows) for d in self.desks)

        await wait_for(agreed, timeout=20, message="a replica differs from the server")
        audit = Audit.read(server.config.db_path)
        assert audit.integrity == "ok"
        made = {d.name: d.engine.client_id for d in self.desks}
        lost = sum(audit.lost(made[d.name], d.made) for d in self.desks)
        doubled = audit.doubled() + sum(c - 1 for c in note_counts(rows).values() if c > 1)
        disorder = sum(audit.out_of_order(cid) for cid in made.values())
        rejected = sum(audit.rejected(cid) for cid in made.values())
        surfaced = sum(d.surfaced for d in self.desks)
        print(
            f"stateful: mutations={sum(d.made for d in self.desks)} faults={self.faults} "
            f"restarts={self.restarts} lost={lost} doubled={doubled} out_of_order={disorder} "
            f"rejected={rejected} surfaced={surfaced}"
        )
        assert lost == 0 and doubled == 0 and disorder == 0
        assert surfaced == rejected

    async def _close_all(self) -> None:
        for desk in self.desks:
            await desk.engine.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.box.stop()


DeskMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDeskStory = DeskMachine.TestCase


def run_big(examples: int, steps: int) -> None:
    """The soak's size (``tests/soak/test_soak_stateful.py``)."""
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        DeskMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
