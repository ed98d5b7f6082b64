"""Limits that keep one client from hurting the others, and a shutdown that loses nothing."""

from __future__ import annotations

import asyncio

from conftest import make_config, start_server
from helpers import connect, connect_as, token_for, wait_for

from backend.accounts import revoke_tokens
from backend.writer import client_key


async def test_chatter_past_the_rate_limit_is_refused_then_closed(tmp_path):
    server = await start_server(make_config(tmp_path, chatter_rate=1, chatter_burst=5))
    try:
        ann = await connect_as(server, "ann")
        for _ in range(10):
            await ann.send({"type": "presence", "viewing": None, "editing": False})
        error = await ann.recv_until("error")
        assert error["code"] == "rate_limited"
        await ann.ws.wait_closed()
        assert ann.ws.close_code == 1008
        # The server serves the others normally.
        bob = await connect_as(server, "bob")
        await bob.create()
        await bob.close()
    finally:
        await server.close()


async def test_mutations_are_never_rate_limited(tmp_path):
    server = await start_server(make_config(tmp_path, chatter_rate=1, chatter_burst=2))
    try:
        ann = await connect_as(server, "ann")
        row = await ann.create()
        last = 0
        for i in range(200):
            last = await ann.mutate("add_note", {"id": row["id"], "text": f"note {i}"})
        assert (await ann.outcome(last, timeout=20))["type"] == "ack"
        assert not [f for f in ann.received if f["type"] == "error"]
        await ann.close()
    finally:
        await server.close()


async def test_a_ninth_connection_closes_the_oldest_politely(server):
    token = await token_for(server, "ann", "ann-pass")
    clients = [await connect(server, token) for _ in range(8)]
    ninth = await connect(server, token)
    await clients[0].ws.wait_closed()
    assert clients[0].ws.close_code == 4429
    assert all(c.ws.close_code is None for c in clients[1:])
    await ninth.create()
    for client in [*clients[1:], ninth]:
        await client.close()


async def test_a_revoked_token_closes_its_open_connections(tmp_path):
    server = await start_server(make_config(tmp_path, token_check_seconds=0.05))
    try:
        ann = await connect_as(server, "ann")
        bob = await connect_as(server, "bob")
        assert await revoke_tokens(server.config.data_dir, "ann", server.config.database_url) == 1
        await asyncio.wait_for(ann.ws.wait_closed(), 5)
        assert ann.ws.close_code == 4401
        await bob.create()
        await bob.close()
    finally:
        await server.close()


async def test_pipelined_writers_are_all_acked_in_order_and_served_in_turn(tmp_path):
    server = await start_server(make_config(tmp_path, queue_per_connection=8, batch_max=16))
    try:
        ann = await connect_as(server, "ann")
        bob = await connect_as(server, "bob")
        rows = {c: await c.create() for c in (ann, bob)}

        async def flood(client, count):
            rid = rows[client]["id"]
            for i in range(count):
                await client.mutate("add_note", {"id": rid, "text": f"{i}"})

        await asyncio.gather(flood(ann, 300), flood(bob, 30))
        for client, count in ((ann, 301), (bob, 31)):
            acks = []
            while len(acks) < count - 1:
                frame = await client.recv_until("ack", timeout=20)
                acks.append(frame["n"])
            assert acks == list(range(2, count + 1))
        # Applied in the order sent, whether a frame went straight into the lane or waited
        # for room behind the reader (FrontdeskConnection's fast path and its fallback).
        notes = server.store.state.requests[rows[ann]["id"]].notes
        assert [n.text for n in notes] == [str(i) for i in range(300)]
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_shutdown_finishes_what_was_received_and_says_going_away(tmp_path):
    config = make_config(tmp_path)
    server = await start_server(config)
    ann = await connect_as(server, "ann")
    row = await ann.create()
    for i in range(50):
        await ann.mutate("add_note", {"id": row["id"], "text": f"{i}"})
    await wait_for(
        lambda: server.store.state.client_last_n.get(client_key("ann", ann.client_id), 0) >= 2
    )
    await server.close()
    await ann.ws.wait_closed()
    assert ann.ws.close_code == 1001
    acked = [f["n"] for f in ann.received if f["type"] == "ack"]
    again = await start_server(config)
    try:
        stored = again.store.state.requests[row["id"]]
        applied = again.store.state.client_last_n[client_key("ann", ann.client_id)] - 1
        assert len(stored.notes) == applied
        assert applied >= len(acked) - 1
    finally:
        await again.close()
