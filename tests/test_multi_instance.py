"""Several server instances on one PostgreSQL database behave as one service.

Each test starts its instances in this process on a fresh database of the session's throw-away
cluster; clients talk to them over real WebSockets on loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest
from conftest import make_config, start_server
from helpers import WsClient, connect, connect_as, token_for, wait_for
from websockets.exceptions import ConnectionClosed

from backend.accounts import revoke_tokens
from backend.app import FrontdeskServer
from backend.pg_store import PostgresStore

Start = Callable[..., Awaitable[list[FrontdeskServer]]]


@pytest.fixture
async def instances(pg_url, tmp_path) -> AsyncIterator[Start]:
    """``await instances(n, **config)``: n instances on one fresh database."""
    started: list[FrontdeskServer] = []
    url = pg_url

    async def start(count: int, **overrides) -> list[FrontdeskServer]:
        group = []
        for _ in range(count):
            config = make_config(tmp_path / f"i{len(started)}", database_url=url, **overrides)
            server = await start_server(config)
            started.append(server)
            group.append(server)
        return group

    start.url = url  # type: ignore[attr-defined]  # the database, for tests that read it
    try:
        yield start
    finally:
        for server in started:
            await server.close()


async def test_a_change_on_one_instance_reaches_terminals_on_the_others(instances):
    a, b, c = await instances(3, follow_seconds=3600)  # no poll: NOTIFY alone must carry it
    ann = await connect_as(a, "ann")
    bob = await connect_as(b, "bob")
    meg = await connect_as(c, "meg")
    made = await ann.create(room="1204")
    for client in (bob, meg):
        change = await client.recv_until("change", where=lambda f: f["request"]["id"] == made["id"])
        assert change["request"]["number"] == made["number"]
        assert change["by"] == {"user": "ann", "client_id": ann.client_id, "n": 1}
        assert change["seq"] == made_seq(ann)
    welcomes = {s.store.instance_id for s in (a, b, c)}
    assert len(welcomes) == 3, "each instance names itself"
    assert len({s.store.server_id for s in (a, b, c)}) == 1, "one service id: clients resume"


def answered(client: WsClient) -> dict[int, dict]:
    """Every ``ack``/``reject`` the client has received, by ``n``."""
    return {f["n"]: f for f in client.received if f["type"] in ("ack", "reject")}


def made_seq(client: WsClient) -> int:
    return next(f["seq"] for f in client.received if f["type"] == "ack")


async def test_seq_has_no_gaps_and_reads_the_same_through_every_instance(instances):
    """Writers on two instances at once; a reader that follows the log while they write never
    sees a later entry before an earlier one (PostgreSQL sequences would allow exactly that)."""
    a, b = await instances(2)
    writers = [await connect_as(a, "ann"), await connect_as(b, "bob"), await connect_as(b, "meg")]
    reader = await PostgresStore.open(instances.url, load_requests=False)
    seen: list[int] = []
    done = asyncio.Event()

    async def follow_the_log() -> None:
        cursor = 0
        while not done.is_set() or cursor < a.store.state.head_seq:
            page = await reader.read_changes(cursor, 500)
            for seq, _data in page:
                assert seq == cursor + 1, f"saw {seq} right after {cursor}: a gap"
                cursor = seq
                seen.append(seq)
            if not page:
                await asyncio.sleep(0.005)

    async def write(client: WsClient, count: int) -> None:
        for i in range(count):
            await client.mutate(
                "create_request",
                {
                    "id": str(uuid.uuid4()),
                    "room": str(100 + i % 50),
                    "category": "housekeeping",
                    "description": f"towels {i}",
                    "priority": "normal",
                },
            )
        for n in range(1, count + 1):
            assert (await client.outcome(n, timeout=30))["type"] == "ack"

    follower = asyncio.create_task(follow_the_log())
    try:
        await asyncio.gather(*(write(w, 150) for w in writers))
        await wait_for(lambda: b.store.state.head_seq == 450, 10)
        done.set()
        await asyncio.wait_for(follower, 20)
    finally:
        done.set()
        await reader.close()
    assert seen == list(range(1, 451))
    numbers = sorted(
        f["request"]["number"] for w in writers for f in w.received if f["type"] == "ack"
    )
    assert numbers == list(range(1, 451)), "ticket numbers unique and dense"
    for server in (a, b):
        late = await connect_as(server, "adam")  # a fresh terminal catches up through it
        assert late.received[0]["seq"] == 450
        caught = [c["seq"] for f in late.received if f["type"] == "changes" for c in f["changes"]]
        assert caught == list(range(1, 451))


async def test_two_instances_editing_one_request_at_once_merge_or_conflict_never_lose(instances):
    a, b = await instances(2)
    ann = await connect_as(a, "ann")
    bob = await connect_as(b, "bob")
    made = await ann.create(room="817", description="leak under the sink")
    await bob.recv_until("change", where=lambda f: f["request"]["id"] == made["id"])
    version = made["version"]
    # Different fields on the same base version, at the same moment: both apply (a merge).
    n1 = await ann.mutate(
        "update_request", {"id": made["id"], "changes": {"room": "818"}}, base_version=version
    )
    n2 = await bob.mutate(
        "update_request",
        {"id": made["id"], "changes": {"description": "leak, now dripping"}},
        base_version=version,
    )
    first, second = await asyncio.gather(ann.outcome(n1), bob.outcome(n2))
    assert first["type"] == second["type"] == "ack", (first, second)
    final = max((first["request"], second["request"]), key=lambda r: r["version"])
    assert final["room"] == "818" and final["description"] == "leak, now dripping"
    # The same field on the same base version: exactly one wins, the other is a conflict.
    version = final["version"]
    n3 = await ann.mutate(
        "update_request", {"id": made["id"], "changes": {"room": "900"}}, base_version=version
    )
    n4 = await bob.mutate(
        "update_request", {"id": made["id"], "changes": {"room": "901"}}, base_version=version
    )
    third, fourth = await asyncio.gather(ann.outcome(n3), bob.outcome(n4))
    kinds = sorted([third["type"], fourth["type"]])
    assert kinds == ["ack", "reject"], (third, fourth)
    rejected = third if third["type"] == "reject" else fourth
    won = fourth if rejected is third else third
    assert rejected["code"] == "conflict"
    assert rejected["current"]["room"] == won["request"]["room"]
    for server in (a, b):
        await wait_for(lambda s=server: s.store.state.requests[made["id"]].version == 4)
        assert server.store.state.requests[made["id"]].room == won["request"]["room"]


async def test_a_terminal_that_moves_to_another_instance_with_its_old_link_half_open_applies_each_edit_once(  # noqa: E501
    instances,
):
    a, b = await instances(2)
    token = await token_for(a, "ann", "ann-pass")
    client_id = str(uuid.uuid4())
    old = await connect(a, token, client_id=client_id)
    made = await old.create(room="1204")
    texts = [f"note {i}" for i in range(2, 102)]
    # The old link pipelines 100 notes and is never closed (half-open, from the server's side)...
    for i, text in enumerate(texts, start=2):
        await old.mutate("add_note", {"id": made["id"], "text": text}, n=i)
    # ...while the terminal, believing it dead, resumes on instance B and resends all of them.
    new = await connect(b, token, client_id=client_id, hello=False)
    welcome = await new.hello()
    assert 1 <= welcome["last_mutation"] <= 101
    for i, text in enumerate(texts, start=2):
        await new.mutate("add_note", {"id": made["id"], "text": text}, n=i)
    # Answers may come out of order: a resend's stored answer is read after the batch's own.
    await new.recv_until("ack", where=lambda _f: len(answered(new)) >= 100, timeout=30)
    answers = [answered(new)[n] for n in range(2, 102)]
    assert {a["type"] for a in answers} == {"ack"}, "a resend gets the stored ack"
    await wait_for(lambda: len(b.store.state.requests[made["id"]].notes) >= 100, 10)
    notes = Counter(n.text for n in b.store.state.requests[made["id"]].notes)
    assert notes == Counter(texts), "every note exactly once"
    seqs = Counter(a["seq"] for a in answers)
    assert len(seqs) == 100, "each resend answered with its own original seq"
    await old.close()


async def test_a_bulk_change_racing_a_single_edit_on_another_instance_is_all_or_none(instances):
    """Meg (on A) acknowledges ten requests in bulk while Ann (on B) starts one of them. If Ann
    wins, that row can no longer be acknowledged and the whole bulk is refused; if the bulk
    wins, Ann's start applies on top. Never half a bulk, and both instances agree."""
    a, b = await instances(2)
    meg = await connect_as(a, "meg")
    ann = await connect_as(b, "ann")
    outcomes = Counter()
    for attempt in range(6):
        rows = [await meg.create(room=str(300 + attempt * 10 + i)) for i in range(10)]
        ids = [r["id"] for r in rows]
        await wait_for(lambda ids=ids: all(i in b.store.state.requests for i in ids))
        target = ids[attempt]
        n_bulk = await meg.mutate("bulk_set_status", {"ids": ids, "status": "acknowledged"})
        n_one = await ann.mutate("set_status", {"id": target, "status": "in_progress"})
        bulk, one = await asyncio.gather(meg.outcome(n_bulk), ann.outcome(n_one))
        assert one["type"] == "ack", one
        await wait_for(
            lambda ids=ids: (
                {i: a.store.state.requests[i].version for i in ids}
                == {i: b.store.state.requests[i].version for i in ids}
            )
        )
        others = {a.store.state.requests[i].status.value for i in ids if i != target}
        assert a.store.state.requests[target].status.value == "in_progress"
        if bulk["type"] == "ack":
            assert others == {"acknowledged"}
        else:
            assert bulk["code"] == "invalid_transition", bulk
            assert others == {"pending"}, "a refused bulk changes nothing"
        outcomes[bulk["type"]] += 1
    head = a.store.state.head_seq  # A may not have followed B's very last commit yet
    seqs = [seq for seq, _ in await a.store.read_changes(0, 10_000)]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= head, "the log has no gap"


async def test_each_alert_is_raised_and_rung_again_by_exactly_one_instance(instances):
    """Both instances scan deadlines and open alerts; the rule book lets one raise each breach
    and one ring each repeat (the other's system mutation is refused), and every terminal on
    either instance hears every bell through the shared log."""
    period = 0.8
    a, b = await instances(2, sla_check_seconds=0.05, escalate=True, alert_repeat_seconds=period)
    ann = await connect_as(a, "ann")
    bob = await connect_as(b, "bob")
    soon = "2020-01-01T00:00:00Z"  # already due: the next SLA run finds it breached
    made = await ann.create(room="1204")
    n = await ann.mutate(
        "update_request",
        {"id": made["id"], "changes": {"due_at": soon}},
        base_version=made["version"],
    )
    assert (await ann.outcome(n))["type"] == "ack"

    def bell(repeat: bool) -> Callable[[dict], bool]:
        return lambda f: f["request"]["id"] == made["id"] and f.get("repeat", False) is repeat

    for client in (ann, bob):
        kinds = set()
        while kinds != {"sla_breach", "escalated"}:
            kinds.add((await client.recv_until("alert", where=bell(False), timeout=15))["kind"])
        rung_at: set[str] = set()
        while len(rung_at) < 2:  # two periods of repeats (each rings both alerts)
            repeat = await client.recv_until("alert", where=bell(True), timeout=15)
            rung_at.add(repeat["request"]["alerts"][repeat["index"]]["rung_at"])
    history = await a.store.history(made["id"])
    raised = [h for h in history if h["mutation"] == "raise_sla_alert"]
    assert len(raised) == 1, "exactly one instance raised the breach"
    assert [a["kind"] for a in raised[0]["request"]["alerts"]] == ["sla_breach", "escalated"]
    rings = [h for h in history if h["mutation"] == "ring_alerts"]
    rung = sorted({a["rung_at"] for h in rings for a in h["request"]["alerts"]})
    assert len(rings) >= 2
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in rung]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= timedelta(seconds=period) for gap in gaps), (
        "no two instances rang the same period"
    )
    async with httpx.AsyncClient(base_url=b.url) as http:
        assert (await http.get("/readyz")).status_code == 200


async def test_an_instance_that_loses_its_database_refuses_writes_then_recovers_by_itself(
    instances, pg_cluster
):
    """While PostgreSQL is down: ``/readyz`` says 503 (the balancer sends nobody new), a
    mutation gets an ``unavailable`` error and its connection is closed with 1013, never an ack.
    When it is back, the same instance serves again without a restart and the resent edit
    applies once."""
    (a,) = await instances(1)
    token = await token_for(a, "ann", "ann-pass")
    ann = await connect(a, token)
    made = await ann.create()
    await pg_cluster.astop()
    try:
        async with httpx.AsyncClient(base_url=a.url) as http:
            await wait_for(
                lambda: _status(http, "/readyz", 503), 10, "/readyz still 200 without PostgreSQL"
            )
            assert (await http.get("/healthz")).status_code == 200, "alive, just not ready"
        n = await ann.mutate("add_note", {"id": made["id"], "text": "during the outage"})
        error = await ann.recv_until("error", timeout=15)
        assert error["code"] == "unavailable" and "database" in error["message"]
        await ann.ws.wait_closed()
        assert ann.ws.close_code == 1013
        assert not [f for f in ann.received if f["type"] == "ack" and f["n"] == n]
    finally:
        await pg_cluster.astart()
    async with httpx.AsyncClient(base_url=a.url) as http:
        await wait_for(lambda: _status(http, "/readyz", 200), 15, "/readyz not back")
    again = await connect(a, token, client_id=ann.client_id, hello=False)
    welcome = await again.hello()
    assert welcome["last_mutation"] == 1, "the refused note was never recorded"
    await again.mutate("add_note", {"id": made["id"], "text": "during the outage"}, n=n)
    assert (await again.outcome(n, timeout=10))["type"] == "ack"
    notes = [x.text for x in a.store.state.requests[made["id"]].notes]
    assert notes == ["during the outage"]


async def _status(http: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await http.get(path)).status_code == status


async def test_a_listener_cut_from_the_database_costs_latency_never_a_change(instances, pg_cluster):
    """Every connection of both instances to PostgreSQL is cut (a network blip): the listeners
    reconnect, LISTEN again and read what they missed; no change is lost on either side. (No
    poll here: only the listener coming back can deliver.)"""
    a, b = await instances(2, follow_seconds=3600)
    ann = await connect_as(a, "ann")
    bob = await connect_as(b, "bob")
    first = await ann.create(room="101")
    await bob.recv_until("change", where=lambda f: f["request"]["id"] == first["id"])
    name = instances.url.rsplit("/", 1)[1]
    assert await asyncio.to_thread(pg_cluster.terminate_connections, name) >= 2
    made = []
    for room in ("102", "103", "104"):
        for _attempt in range(50):  # the first commit after the cut may find a dead pool slot
            try:
                made.append(await ann.create(room=room))
                break
            except (AssertionError, ConnectionClosed):  # refused as unavailable, then 1013
                await ann.ws.wait_closed()
                ann = await connect_as(a, "ann")
        else:
            raise AssertionError("instance A did not recover from the cut")
    for row in made:
        await bob.recv_until(
            "change", where=lambda f, r=row: f["request"]["id"] == r["id"], timeout=10
        )


async def test_a_token_revoked_on_one_instance_closes_its_connections_on_all(instances):
    a, b = await instances(2, token_check_seconds=0.05)
    token = await token_for(a, "ann", "ann-pass")
    on_a = await connect(a, token)
    on_b = await connect(b, token)
    assert await revoke_tokens(None, "ann", instances.url) == 1
    for client in (on_a, on_b):
        await asyncio.wait_for(client.ws.wait_closed(), 10)
        assert client.ws.close_code == 4401
    async with httpx.AsyncClient(base_url=b.url) as http:
        refused = await http.get("/ws", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_a_hello_ahead_of_a_lagging_instance_is_answered_from_the_shared_log(instances):
    """A commit whose notification never reached instance B (lost; B polls only hourly here):
    a terminal that already saw it elsewhere says hello to B with that seq. B reads the log
    first, so the terminal resumes with no snapshot and nothing missing."""
    a, b = await instances(2, follow_seconds=3600)
    ann = await connect_as(a, "ann")
    made = await ann.create(room="1204")
    await wait_for(lambda: made["id"] in b.store.state.requests)
    head = await commit_without_notify(instances.url, made["id"], "Two extra towels, and soap")
    assert b.store.state.head_seq == head, "B has not heard of it"
    bob = await connect_as(b, "bob", hello=False)
    await bob.hello(last_seq=head + 1)
    assert not [f for f in bob.received if f["type"] == "snapshot"], "no snapshot for a lag"
    synced = next(f for f in bob.received if f["type"] == "synced")
    assert synced["seq"] == head + 1
    assert b.store.state.requests[made["id"]].description == "Two extra towels, and soap"


async def test_a_commit_whose_notification_is_lost_arrives_with_the_poll(instances):
    """No NOTIFY for a commit: the other instance's poll (``follow_seconds``) reads it and its
    terminals get the change; latency, never a change lost."""
    a, b = await instances(2, follow_seconds=0.2)
    ann = await connect_as(a, "ann")
    bob = await connect_as(b, "bob")
    made = await ann.create(room="1204")
    await bob.recv_until("change", where=lambda f: f["request"]["id"] == made["id"])
    head = await commit_without_notify(instances.url, made["id"], "Towels, soap, slippers")
    change = await bob.recv_until("change", where=lambda f: f["seq"] == head + 1, timeout=10)
    assert change["request"]["description"] == "Towels, soap, slippers"


async def commit_without_notify(url: str, request_id: str, description: str) -> int:
    """Change a request's description the way a commit does (row, log, counters) but send no
    NOTIFY, as when a notification is lost; returns the head before it."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            head = await conn.fetchval("SELECT head FROM counters WHERE id = 1 FOR UPDATE")
            row = json.loads(
                await conn.fetchval("SELECT data FROM requests WHERE id = $1", request_id)
            )
            row.update(description=description, version=row["version"] + 1)
            data = json.dumps(row, separators=(",", ":"))
            await conn.execute(
                "UPDATE counters SET head = head + 1, commits = commits + 1 WHERE id = 1"
            )
            await conn.execute(
                "INSERT INTO changes (seq, request_id, mutation, by_user, client_id, n, at, data)"
                " VALUES ($1, $2, 'update_request', 'meg', NULL, NULL, $3, $4)",
                head + 1,
                request_id,
                time.time(),
                data,
            )
            await conn.execute(
                "UPDATE requests SET data = $1, seq = $2, version = $3 WHERE id = $4",
                data,
                head + 1,
                row["version"],
                request_id,
            )
    finally:
        await conn.close()
    return int(head)


async def test_an_edit_of_a_closed_request_another_instance_does_not_hold_rings_no_bell(instances):
    """An instance follows a change of a request it does not hold in memory (closed before it
    started): it cannot compare with the row before, yet it must ring only the alerts that
    change raised or rang again — here none (a note on a completed request)."""
    (a,) = await instances(1)
    ann = await connect_as(a, "ann")
    made = await ann.create(priority="urgent")  # its alert is never acknowledged
    for status in ("in_progress", "completed"):
        n = await ann.mutate("set_status", {"id": made["id"], "status": status})
        assert (await ann.outcome(n))["type"] == "ack"
    (b,) = await instances(1)  # started after: holds open requests only
    assert made["id"] not in b.store.state.requests
    meg = await connect_as(b, "meg")
    n = await ann.mutate("add_note", {"id": made["id"], "text": "guest thanked us"})
    assert (await ann.outcome(n))["type"] == "ack"
    await meg.recv_until("change", where=lambda f: f["request"]["id"] == made["id"], timeout=15)
    marker = await ann.create(room="999")
    await meg.recv_until("change", where=lambda f: f["request"]["id"] == marker["id"], timeout=15)
    rung = [f for f in meg.received if f["type"] == "alert"]
    assert rung == [], "a note rings no bell"
