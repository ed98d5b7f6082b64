"""Issue 7 at full size: 10 terminals, 1,000 mutations through a faulty network, with SIGKILLs.

``make soak`` only (``-m soak``). A real ``frontdesk serve`` process sits behind ``FaultyProxy``
(random delays, stalls, cuts mid-frame, and outages). Ten terminal processes
(``desk_process.py``) each make 1,000 random desk edits through the proxy. While they work the
server process is SIGKILLed and restarted on the same data and port, and terminal processes are
SIGKILLed and restarted on their own data, at seeded random moments. When every terminal has
made its 1,000 edits and drained its outbox, each replica is reopened in-process, synced
directly, and compared with what the server lists; the server's change log and stored outcomes
are audited for lost, doubled and out-of-order mutations; every refusal must have been told.

Bounded: the whole run stops within ``RUN_LIMIT`` seconds (well under make soak's 15 minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path

import pytest
from conftest import USERS
from faults import FaultyProxy, pick_seed
from helpers import spawn_serve, token_for, wait_for
from offline_kit import drained, online
from reliability_kit import Audit, differing, server_rows
from test_reliability_convergence import Figures

from backend.accounts import add_user
from offline.engine import Engine, EngineConfig
from protocol import Role

DESKS = 10
PER_DESK = 1000
SERVER_KILLS = 6
DESK_KILLS = 20
BLIPS = 20
OUTAGES = 3
CHAOS_SPAN = 110.0
"""Seconds over which the faults are spread (the desks pace 1,000 edits over ~2 minutes)."""
RUN_LIMIT = 12 * 60
DESK_SCRIPT = Path(__file__).resolve().parent / "desk_process.py"
ROLES = ["staff"] * 7 + ["manager"] * 2 + ["fake-manager"]
"""The tenth desk is a staff member whose terminal believes it is a manager: the server
refuses its cancels and reopens, so refusals are part of the run."""


class ServerProcess:
    """``python -m frontdesk serve`` on one port, to be SIGKILLed and restarted."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> None:
        env = {"FRONTDESK_LOGIN_DELAY_BASE": "0.01"}
        proc, self.url = await spawn_serve(self.data_dir, self.log, port=self.port, env=env)
        self.port = int(self.url.rsplit(":", 1)[1])
        self.proc = proc

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                await self.kill()


class DeskProcess:
    """One terminal process; restarted on its own data after each SIGKILL until it is done."""

    def __init__(self, index: int, root: Path, url: str, token: str, user: str, role: str):
        self.index = index
        self.data_dir = root / f"desk{index}"
        self.url = url
        self.token = token
        self.user = user
        self.role = role
        self.proc: asyncio.subprocess.Process | None = None
        self.result: dict | None = None
        self.kills = 0
        self.runs = 0

    async def start(self) -> None:
        self.runs += 1
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DESK_SCRIPT),
            str(self.data_dir),
            self.user,
            self.role,
            self.url,
            str(PER_DESK),
            str(self.index * 1000 + self.runs),
            stdout=asyncio.subprocess.PIPE,
            stderr=(self.data_dir.parent / f"desk{self.index}.log").open("ab"),
            env={**os.environ, "FRONTDESK_TOKEN": self.token, "PYTHONUNBUFFERED": "1"},
        )

    async def run_to_the_end(self) -> None:
        while True:
            assert self.proc is not None and self.proc.stdout is not None
            out = await self.proc.stdout.read()
            code = await self.proc.wait()
            if code == 0:
                self.result = json.loads(out.decode().strip().splitlines()[-1])
                return
            if code != -signal.SIGKILL:
                raise AssertionError(f"desk {self.index} exited with {code}")
            await self.start()  # killed: the terminal is started again on the same data

    def kill(self) -> bool:
        if self.proc is None or self.proc.returncode is not None or self.result is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        self.kills += 1
        return True

    def surfaced(self) -> int:
        path = self.data_dir / "events.jsonl"
        return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.soak
@pytest.mark.timeout(RUN_LIMIT + 120)
async def test_ten_terminal_processes_through_faults_and_sigkills_end_identical(tmp_path):
    seed = pick_seed()
    rng = random.Random(seed)
    data_dir = tmp_path / "server"
    names = []
    for i, role in enumerate(ROLES):
        name = f"desk{i}"
        await add_user(data_dir, name, "staff" if role == "fake-manager" else role, f"{name}-pw")
        names.append(name)
    await add_user(data_dir, "meg", "manager", USERS["meg"][1])
    server = ServerProcess(data_dir, tmp_path / "serve.log")
    await server.start()
    proxy = await FaultyProxy(
        server.port, seed, cut_rate=0.2, stall_rate=0.05, delay_rate=0.3, stall_seconds=0.5
    ).start()
    desks = [
        DeskProcess(
            i,
            tmp_path,
            proxy.url,
            await token_for(server, names[i], f"{names[i]}-pw"),
            names[i],
            "manager" if role == "fake-manager" else role,
        )
        for i, role in enumerate(ROLES)
    ]
    for desk in desks:
        desk.data_dir.mkdir(parents=True)
        await desk.start()
    runs = [asyncio.create_task(desk.run_to_the_end()) for desk in desks]
    loop = asyncio.get_running_loop()
    started = loop.time()
    server_kills = 0
    try:
        # Chaos, at seeded moments, while the desks work (bounded by counts and by time).
        plan = sorted(
            [("server", rng.uniform(3, CHAOS_SPAN)) for _ in range(SERVER_KILLS)]
            + [("desk", rng.uniform(2, CHAOS_SPAN)) for _ in range(DESK_KILLS)]
            + [("blip", rng.uniform(1, CHAOS_SPAN)) for _ in range(BLIPS)]
            + [("outage", rng.uniform(5, CHAOS_SPAN)) for _ in range(OUTAGES)],
            key=lambda p: p[1],
        )
        for what, at in plan:
            done, _ = await asyncio.wait(runs, timeout=max(0, started + at - loop.time()))
            if len(done) == len(runs):
                break
            if what == "server":
                await server.kill()
                server_kills += 1
                await server.start()
            elif what == "desk":
                rng.choice(desks).kill()
            elif what == "blip":
                proxy.cut_all()
            else:
                proxy.outage(True)
                await asyncio.wait(runs, timeout=rng.uniform(0.5, 3))
                proxy.outage(False)
        proxy.faults_on = False
        proxy.cut_all()
        await asyncio.wait_for(asyncio.gather(*runs), RUN_LIMIT - (loop.time() - started))
    finally:
        for desk in desks:
            desk.kill()
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    try:
        # Every replica, reopened and synced straight to the server, must equal the server.
        token = await token_for(server, "meg", USERS["meg"][1])
        rows = await server_rows(server.url, token)
        differing_replicas = 0
        for desk in desks:
            engine = await Engine.open(
                EngineConfig(
                    data_dir=desk.data_dir,
                    user=desk.user,
                    role=Role(desk.role),
                    server_url=server.url,
                    token=desk.token,
                )
            )
            try:
                await engine.start()
                await wait_for(lambda e=engine: online(e) and drained(e), timeout=60)
                rows = await server_rows(server.url, token)
                if differing(engine, rows):
                    differing_replicas += 1
            finally:
                await engine.close()
    finally:
        await server.stop()
        await proxy.close()
    audit = Audit.read(data_dir / "frontdesk.sqlite3")
    assert audit.integrity == "ok"
    results = {d.index: d.result for d in desks}
    assert all(results.values()), results
    figures = Figures(
        seed=seed,
        clients=len(desks),
        mutations=sum(r["used"] for r in results.values() if r),
        refused_locally=0,
        faults=proxy.counts.total + server_kills + sum(d.kills for d in desks),
        restarts=server_kills,
        lost=sum(audit.lost(r["client_id"], r["used"]) for r in results.values() if r),
        doubled=audit.doubled(),
        out_of_order=sum(audit.out_of_order(r["client_id"]) for r in results.values() if r),
        rejected=sum(audit.rejected(r["client_id"]) for r in results.values() if r),
        surfaced=sum(d.surfaced() for d in desks),
        differing_replicas=differing_replicas,
    )
    print(f"soak convergence: {figures.line()}")
    close_errors = sum(1 for r in results.values() if r and r.get("close_error"))
    print(f"soak: engine.close() raised in {close_errors} of {len(desks)} final desk runs")
    print(
        f"soak faults: {proxy.counts}, server SIGKILLs {server_kills}, desk SIGKILLs "
        f"{sum(d.kills for d in desks)}, elapsed {loop.time() - started:.0f} s"
    )
    assert figures.mutations >= DESKS * PER_DESK
    assert figures.differing_replicas == 0, figures.line()
    assert figures.lost == 0, figures.line()
    assert figures.doubled == 0, figures.line()
    assert figures.out_of_order == 0, figures.line()
