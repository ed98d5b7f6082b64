"""Three real ``frontdesk serve`` instances on one PostgreSQL behind a real HAProxy: one is
SIGKILLed mid-load, then PostgreSQL itself restarts, and the service loses nothing.

The clients connect only through HAProxy (``docs/haproxy.cfg.example``, as operators run it);
when their instance dies they reconnect through it to another, resume from ``last_seq`` and
resend what is unanswered, as the offline engine does.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import USERS
from failover_kit import ResendingWriter, Resumer
from helpers import spawn_serve, wait_for

from backend.accounts import add_user
from backend.pg_store import PostgresStore


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
    env = {"FRONTDESK_DATABASE_URL": pg_url, "FRONTDESK_FOLLOW_SECONDS": "0.5"}
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
        print("PHASE kill", answered(), file=sys.stderr)
        victim, _ = procs[0]
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        await wait_for(lambda: answered() >= total // 2, 60, "no progress after the kill")
        print("PHASE restart", answered(), file=sys.stderr)

        # Then PostgreSQL itself restarts under load: the instances ride it out.
        await pg_cluster.arestart()
        print("PHASE restarted", answered(), file=sys.stderr)
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


@pytest.mark.timeout(300)
async def test_an_instance_killed_mid_load_then_a_database_restart_lose_nothing(
    pg_url, pg_cluster, start_haproxy, tmp_path
):
    figures = await run_failover(pg_url, pg_cluster, start_haproxy, tmp_path)
    assert figures.acked == 1800
    print(
        f"failover: {figures.acked} acked, head {figures.head}, slowest resume "
        f"{figures.failover_s:.2f} s, {figures.reconnects} reconnects",
        file=sys.stderr,
    )
