"""A terminal that was away gets everything it missed, once, however long it was gone."""

from __future__ import annotations

import asyncio

from conftest import make_config, start_server
from helpers import connect, connect_as, token_for


async def test_a_terminal_back_from_a_break_catches_up_in_pages(tmp_path):
    server = await start_server(make_config(tmp_path, catchup_page_size=7))
    try:
        ann = await connect_as(server, "ann")
        first = await ann.create()
        seen_seq = server.store.state.head_seq
        made = [await ann.create(room=str(200 + i)) for i in range(20)]
        token = await token_for(server, "bob", "bob-pass")
        bob = await connect(server, token, hello=False)
        welcome = await bob.hello(last_seq=seen_seq)
        assert welcome["seq"] == server.store.state.head_seq
        pages = [f for f in bob.received if f["type"] == "changes"]
        assert [len(p["changes"]) for p in pages] == [7, 7, 6]
        assert [p["more"] for p in pages] == [True, True, False]
        got = [c["request"]["id"] for p in pages for c in p["changes"]]
        assert got == [r["id"] for r in made] and first["id"] not in got
        synced = bob.received[-1]
        assert synced == {"type": "synced", "seq": server.store.state.head_seq}
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_changes_made_during_catch_up_arrive_once_and_in_order(tmp_path):
    server = await start_server(make_config(tmp_path, catchup_page_size=5))
    try:
        ann = await connect_as(server, "ann")
        rows = [await ann.create() for _ in range(30)]
        token = await token_for(server, "bob", "bob-pass")

        async def keep_writing():
            for i in range(60):
                n = await ann.mutate("add_note", {"id": rows[i % 30]["id"], "text": str(i)})
            await ann.outcome(n, timeout=20)

        writing = asyncio.create_task(keep_writing())
        bob = await connect(server, token)
        await writing
        head = server.store.state.head_seq
        while True:
            seqs = [c["seq"] for f in bob.received if f["type"] == "changes" for c in f["changes"]]
            seqs += [f["seq"] for f in bob.received if f["type"] == "change"]
            if seqs and seqs[-1] == head:
                break
            await bob.recv_until("change", timeout=10)
        assert seqs == list(range(1, head + 1))
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_a_terminal_older_than_the_kept_log_gets_a_snapshot(tmp_path):
    server = await start_server(make_config(tmp_path, log_keep_days=0, catchup_page_size=4))
    try:
        ann = await connect_as(server, "ann")
        rows = [await ann.create(room=str(300 + i)) for i in range(6)]
        n = await ann.mutate("set_status", {"id": rows[0]["id"], "status": "acknowledged"})
        await ann.outcome(n)
        await server.run_job("compaction")
        assert server.store.state.compacted_through == server.store.state.head_seq
        late = await ann.create(room="999")
        token = await token_for(server, "bob", "bob-pass")
        bob = await connect(server, token, hello=False)
        await bob.hello(last_seq=1)
        snapshots = [f for f in bob.received if f["type"] == "snapshot"]
        assert [len(s["requests"]) for s in snapshots] == [4, 3]
        assert (
            snapshots[-1]["more"] is False and snapshots[-1]["seq"] == server.store.state.head_seq
        )
        ids = {r["id"] for s in snapshots for r in s["requests"]}
        assert ids == {r["id"] for r in [*rows, late]}
        assert not [f for f in bob.received if f["type"] == "changes"]
        acked = next(r for s in snapshots for r in s["requests"] if r["id"] == rows[0]["id"])
        assert acked["status"] == "acknowledged"
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_a_resend_whose_outcome_was_pruned_is_rejected_as_duplicate(tmp_path):
    config = make_config(tmp_path, outcome_keep_days=0, outcome_keep_per_client=1)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        first = await ann.create()
        await ann.create()
        await ann.create()
        await server.run_job("outcomes")
        await ann.mutate("create_request", {}, n=1)
        answer = await ann.outcome(1)
        assert answer["type"] == "reject" and answer["code"] == "duplicate"
        assert server.store.state.requests[first["id"]].version == 1
        await ann.mutate("create_request", {}, n=3)
        assert (await ann.outcome(3))["type"] == "ack"
        await ann.close()
    finally:
        await server.close()


async def test_acked_changes_survive_a_restart(tmp_path):
    config = make_config(tmp_path)
    server = await start_server(config)
    ann = await connect_as(server, "ann")
    row = await ann.create(room="1520")
    n = await ann.mutate("set_status", {"id": row["id"], "status": "in_progress"})
    await ann.outcome(n)
    await ann.close()
    server_id, head = server.store.server_id, server.store.state.head_seq
    await server.close()
    server = await start_server(config)
    try:
        assert server.store.server_id == server_id
        token = await token_for(server, "ann", "ann-pass")
        back = await connect(server, token, client_id=ann.client_id, hello=False)
        welcome = await back.hello()
        assert welcome["seq"] == head and welcome["last_mutation"] == n
        assert server.store.state.requests[row["id"]].status == "in_progress"
        back.n = n
        again = await back.create()
        assert again["number"] == row["number"] + 1
        await back.close()
    finally:
        await server.close()
