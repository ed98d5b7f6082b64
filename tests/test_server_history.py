"""Years of history: the server holds open work, and old requests are still there when touched.

A closed request leaves the server's memory (a restart reads only the open ones), yet a
mutation on it is applied on its current row, a resend of that mutation gets the same answer,
a lookup finds it, and a new terminal's snapshot carries only the working set.
"""

from __future__ import annotations

from typing import Any

import httpx
from conftest import make_config, start_server
from helpers import WsClient, connect, connect_as, token_for

from backend.store import open_store
from bench.history_seed import seed


async def _close(client: WsClient, row: dict[str, Any]) -> dict[str, Any]:
    """Start then complete ``row``; returns the completed row."""
    for status in ("in_progress", "completed"):
        n = await client.mutate(
            "set_status", {"id": row["id"], "status": status}, base_version=row["version"]
        )
        answer = await client.outcome(n)
        assert answer["type"] == "ack", answer
        row = answer["request"]
    return row


async def _lookup(server, token: str, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.get(
            "/api/v1/requests", params=params, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["requests"])


async def _new_terminal(server, user: str, password: str, window_days: float) -> WsClient:
    """A terminal that never synced, asking for a snapshot window of its own."""
    client = await connect(server, await token_for(server, user, password), hello=False)
    await client.send(
        {
            "type": "hello",
            "v": 1,
            "client_id": client.client_id,
            "last_seq": 0,
            "window_days": window_days,
        }
    )
    await client.recv_until("welcome")
    await client.recv_until("synced", timeout=30)
    return client


async def _answer(client: WsClient, n: int) -> dict[str, Any]:
    """The ``ack``/``reject`` of mutation ``n``, or the ``error`` that refused its batch."""
    while True:
        frame = await client.recv()
        if frame["type"] in ("ack", "reject") and frame.get("n") == n:
            return frame
        if frame["type"] == "error" and frame.get("ref") == "mutate":
            return frame


def _snapshot_ids(client: WsClient) -> set[str]:
    return {r["id"] for f in client.received if f["type"] == "snapshot" for r in f["requests"]}


async def test_a_closed_request_outside_the_window_is_looked_up_edited_and_sent_again(tmp_path):
    config = make_config(tmp_path, snapshot_log_entries=0)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        old = await _close(ann, await ann.create(room="1204", guest_name="Chloé Martin"))
        still_open = await ann.create(room="817")
        await ann.close()
        await server.close()
        server = await start_server(config)  # memory now holds the open request only
        assert old["id"] not in server.store.state.requests
        assert still_open["id"] in server.store.state.requests

        bob = await _new_terminal(server, "bob", "bob-pass", window_days=0)
        assert _snapshot_ids(bob) == {still_open["id"]}

        token = await token_for(server, "bob", "bob-pass")
        by_room = await _lookup(server, token, room="1204")
        by_guest = await _lookup(server, token, guest="chloé mar")
        by_number = await _lookup(server, token, number=str(old["number"]))
        assert [r["id"] for r in by_room] == [old["id"]]
        assert by_guest == by_room == by_number

        n = await bob.mutate("add_note", {"id": old["id"], "text": "Guest called back"})
        answer = await bob.outcome(n)
        assert answer["type"] == "ack", answer
        assert answer["request"]["version"] == old["version"] + 1
        assert [note["text"] for note in answer["request"]["notes"]] == ["Guest called back"]
        change = await bob.recv_until("change")
        assert change["request"]["id"] == old["id"] and change["request"]["status"] == "completed"
        await bob.close()
    finally:
        await server.close()


async def test_a_resend_on_a_request_evicted_from_memory_gets_the_same_ack(tmp_path):
    config = make_config(tmp_path)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        old = await _close(ann, await ann.create(room="512"))
        await server.close()
        await ann.ws.wait_closed()
        server = await start_server(config)
        assert old["id"] not in server.store.state.requests

        token = await token_for(server, "ann", "ann-pass")
        again = await connect(server, token, client_id=ann.client_id)
        n = await again.mutate(
            "update_request",
            {"id": old["id"], "changes": {"description": "Towels, and a bath mat"}},
            base_version=old["version"],
            n=ann.n + 1,
        )
        first = await again.outcome(n)
        assert first["type"] == "ack", first
        await again.close()
        await server.close()

        server = await start_server(config)  # evicted again: the answer comes from the store
        assert old["id"] not in server.store.state.requests
        third = await connect(server, token, client_id=ann.client_id)
        head = server.store.state.head_seq
        await third.mutate(
            "update_request",
            {"id": old["id"], "changes": {"description": "Towels, and a bath mat"}},
            base_version=old["version"],
            n=n,
        )
        resent = await third.outcome(n)
        assert resent == first
        assert server.store.state.head_seq == head  # not applied again
        (stored,) = await _lookup(server, token, number=str(old["number"]))
        assert stored["version"] == old["version"] + 1
        await third.close()
    finally:
        await server.close()


async def test_a_restart_with_a_large_store_serves_its_first_client(tmp_path):
    config = make_config(tmp_path)
    store = await open_store(config.data_dir, config.database_url, load_requests=False)
    try:
        seeded = await seed(store, total=20_000, open_count=200)
    finally:
        await store.close()
    server = await start_server(config)
    try:
        assert server.store.state.requests.open_count == 200
        assert len(server.store.state.requests) == 200  # no closed row read at start-up
        meg = await _new_terminal(server, "meg", "meg-pass", window_days=14)
        rows = [r for f in meg.received if f["type"] == "snapshot" for r in f["requests"]]
        assert rows and all(r["status"] in ("pending", "in_progress", "completed") for r in rows)
        assert {r["id"] for r in rows if r["status"] == "pending"} == {
            rid for rid, row in server.store.state.requests.items() if row.is_open
        }
        assert seeded["oldest_id"] not in _snapshot_ids(meg)
        # The two-year-old request: reopened by a manager, on its current row.
        n = await meg.mutate(
            "set_status", {"id": seeded["oldest_id"], "status": "pending"}, base_version=3
        )
        answer = await meg.outcome(n)
        assert answer["type"] == "ack", answer
        assert answer["request"]["number"] == 1 and answer["request"]["status"] == "pending"
        assert seeded["oldest_id"] in server.store.state.requests
        await meg.close()
    finally:
        await server.close()


async def test_a_resent_bulk_change_gets_its_ack_rebuilt_from_the_log(tmp_path):
    config = make_config(tmp_path)
    server = await start_server(config)
    try:
        meg = await connect_as(server, "meg")
        rows = [await meg.create(room=str(400 + i)) for i in range(3)]
        n = await meg.mutate(
            "bulk_set_status", {"ids": [r["id"] for r in rows], "status": "in_progress"}
        )
        first = await meg.outcome(n)
        assert first["type"] == "ack" and len(first["requests"]) == 3, first
        await server.close()
        await meg.ws.wait_closed()

        server = await start_server(config)
        token = await token_for(server, "meg", "meg-pass")
        again = await connect(server, token, client_id=meg.client_id)
        await again.mutate(
            "bulk_set_status", {"ids": [r["id"] for r in rows], "status": "in_progress"}, n=n
        )
        assert await again.outcome(n) == first
        await again.close()
    finally:
        await server.close()


async def test_every_log_entry_reads_its_own_version_though_the_newest_is_stored_once(tmp_path):
    server = await start_server(make_config(tmp_path))
    try:
        ann = await connect_as(server, "ann")
        row = await ann.create(room="808")
        for text in ("first", "second"):
            n = await ann.mutate("add_note", {"id": row["id"], "text": text})
            assert (await ann.outcome(n))["type"] == "ack"
        token = await token_for(server, "ann", "ann-pass")
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.get(
                f"/api/v1/requests/{row['id']}/history",
                headers={"Authorization": f"Bearer {token}"},
            )
        history = answer.json()["history"]
        assert [e["request"]["version"] for e in history] == [1, 2, 3]
        assert [len(e["request"]["notes"]) for e in history] == [0, 1, 2]
        bob = await connect_as(server, "bob")  # a new terminal reads the log from the start
        entries = [c for f in bob.received if f["type"] == "changes" for c in f["changes"]]
        assert [c["request"]["version"] for c in entries] == [1, 2, 3]
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_a_create_that_reuses_the_id_of_an_evicted_request_is_refused_never_overwrites(
    tmp_path,
):
    """A create's id is not read before it is prepared (it is new, almost surely); on SQLite
    the commit makes sure. A client that reuses the id of a request closed long ago (not in
    memory) is told to send again, and the resend is refused ``exists``: the old request stays
    as it was."""
    config = make_config(tmp_path)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        old = await _close(ann, await ann.create(room="512", description="Old towels"))
        await server.close()
        await ann.ws.wait_closed()
        server = await start_server(config)
        assert old["id"] not in server.store.state.requests

        token = await token_for(server, "ann", "ann-pass")
        bob = await connect_as(server, "bob")
        args = {
            "id": old["id"],
            "room": "101",
            "category": "other",
            "description": "A new request with an old id",
            "priority": "low",
        }
        n = await bob.mutate("create_request", args)
        answer = await _answer(bob, n)
        if answer["type"] == "error":  # SQLite: the commit found the id taken; nothing saved
            assert answer["code"] == "unavailable" and "taken" in answer["message"]
            await bob.ws.wait_closed()
            bob = await connect(
                server, await token_for(server, "bob", "bob-pass"), client_id=bob.client_id
            )
            await bob.mutate("create_request", args, n=n)
            answer = await _answer(bob, n)
        refused = answer
        assert refused["type"] == "reject" and refused["code"] == "exists", refused
        (stored,) = await _lookup(server, token, number=str(old["number"]))
        assert stored["description"] == "Old towels" and stored["version"] == old["version"]
        bob.n = n  # the next mutation numbers follow the refused one
        marker = await bob.create(room="777")  # the writer goes on
        assert marker["number"] == old["number"] + 1
        await bob.close()
    finally:
        await server.close()
