"""Property: whatever several terminals do, with disconnects and server restarts in between,
every replica ends equal to the server and every edit ends acked, refused with a notice, or
parked — never lost, never applied twice."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path

from conftest import USERS, make_config, start_server
from helpers import token_for, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import FrontdeskServer
from offline.engine import Engine, EngineConfig
from offline.errors import Rejected
from offline.events import ConflictParked, EngineEvent, MutationRejected
from protocol import Role

CLIENTS = ("ann", "bob", "meg")
STATUSES = ("acknowledged", "in_progress", "completed", "cancelled", "pending")

edit = st.tuples(
    st.just("edit"),
    st.sampled_from(CLIENTS),
    st.sampled_from(("create", "status", "assign", "note", "describe")),
    st.integers(0, 7),
    st.sampled_from(STATUSES),
)
toggle = st.tuples(st.just("toggle"), st.sampled_from(CLIENTS))
restart = st.tuples(st.just("restart"))
steps = st.lists(st.one_of(edit, edit, edit, toggle, restart), min_size=3, max_size=14)


class Terminal:
    """One person's engine, switched between online and offline (restarting it each time)."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.engine: Engine | None = None
        self.online = True
        self.events: list[EngineEvent] = []
        self.queued = 0
        self.notes = 0

    async def open(self, url: str | None, token: str | None) -> None:
        self.engine = await Engine.open(
            EngineConfig(
                data_dir=self.root / self.name,
                user=self.name,
                role=Role(USERS[self.name][0]),
                server_url=url if self.online else None,
                token=token,
                backoff_cap=0.3,
            )
        )
        self.engine.subscribe(self.events.append)
        await self.engine.start()


async def scenario(plan: list[tuple]) -> None:
    root = Path(tempfile.mkdtemp(prefix="frontdesk-converge-"))
    server: FrontdeskServer = await start_server(make_config(root))
    port = server.port
    tokens = {n: await token_for(server, n, USERS[n][1]) for n in CLIENTS}
    terminals = {n: Terminal(n, root) for n in CLIENTS}
    for t in terminals.values():
        await t.open(server.url, tokens[t.name])
    url = server.url
    notes = itertools.count()
    try:
        for step in plan:
            if step[0] == "restart":
                await server.close()
                server = await start_server(make_config(root, port=port))
                for t in terminals.values():
                    await t.engine.sync_now()
            elif step[0] == "toggle":
                t = terminals[step[1]]
                await t.engine.close()
                t.online = not t.online
                await t.open(url, tokens[t.name])
            else:
                _, who, op, pick, status = step
                engine = terminals[who].engine
                ids = sorted(r.id for r in engine.requests())
                try:
                    if op == "create" or not ids:
                        await engine.create_request(
                            room=str(100 + pick),
                            category="other",
                            description=f"made by {who}",
                            priority="normal",
                        )
                    elif op == "status":
                        await engine.set_status(ids[pick % len(ids)], status)
                    elif op == "assign":
                        await engine.assign(ids[pick % len(ids)], CLIENTS[pick % 3])
                    elif op == "note":
                        await engine.add_note(ids[pick % len(ids)], f"note {next(notes)}")
                        terminals[who].notes += 1
                    else:
                        await engine.update_request(
                            ids[pick % len(ids)], {"description": f"{who} says {pick}"}
                        )
                    terminals[who].queued += 1
                except Rejected:
                    pass  # refused locally: never queued, nothing to deliver

        for t in terminals.values():
            if not t.online:
                await t.engine.close()
                t.online = True
                await t.open(url, tokens[t.name])
        engines = [t.engine for t in terminals.values()]

        def settled() -> bool:
            return all(e.status.pending == 0 and e.status.connection == "online" for e in engines)

        await wait_for(settled, timeout=30, message="every terminal drained and online")
        # Re-issued conflict edits may have moved rows after others caught up: wait for quiet.
        witness = await Engine.open(
            EngineConfig(
                data_dir=root / "witness",
                user="adam",
                role=Role.ADMIN,
                server_url=url,
                token=await token_for(server, "adam", "adam-pass"),
            )
        )
        await witness.start()
        try:
            await wait_for(lambda: witness.status.connection == "online", message="witness")

            def converged() -> bool:
                truth = {r.id: r for r in witness.requests()}
                return settled() and all({r.id: r for r in e.requests()} == truth for e in engines)

            await wait_for(converged, timeout=15, message="replicas equal the server")
            texts = [n.text for r in witness.requests() for n in r.notes]
            assert len(texts) == len(set(texts)), "a note was applied twice"
            for t in terminals.values():
                told = sum(isinstance(e, MutationRejected | ConflictParked) for e in t.events)
                assert told <= t.queued
        finally:
            await witness.close()
    finally:
        for t in terminals.values():
            if t.engine is not None:
                await t.engine.close()
        await server.close()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(plan=steps)
def test_replicas_converge_on_the_server_whatever_happens(plan):
    asyncio.run(asyncio.wait_for(scenario(plan), 90))
