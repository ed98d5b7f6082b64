"""The server decides with the shared rule book: roles, transitions, conflicts, bulk changes."""

from __future__ import annotations

import uuid

from helpers import connect_as


async def test_staff_cannot_reopen_or_bulk_change_but_a_manager_can(server):
    ann = await connect_as(server, "ann")
    meg = await connect_as(server, "meg")
    row = await ann.create()
    for status in ("in_progress", "completed"):
        n = await ann.mutate("set_status", {"id": row["id"], "status": status})
        assert (await ann.outcome(n))["type"] == "ack"
    n = await ann.mutate("set_status", {"id": row["id"], "status": "pending"})
    refused = await ann.outcome(n)
    assert refused["type"] == "reject" and refused["code"] == "forbidden"
    assert refused["current"]["status"] == "completed"
    n = await ann.mutate("bulk_set_status", {"ids": [row["id"]], "status": "pending"})
    assert (await ann.outcome(n))["code"] == "forbidden"
    n = await meg.mutate("set_status", {"id": row["id"], "status": "pending"})
    assert (await meg.outcome(n))["request"]["status"] == "pending"
    await ann.close()
    await meg.close()


async def test_only_the_creator_or_a_manager_may_cancel(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    meg = await connect_as(server, "meg")
    first = await ann.create()
    second = await ann.create()
    n = await bob.mutate("set_status", {"id": first["id"], "status": "cancelled"})
    assert (await bob.outcome(n))["code"] == "forbidden"
    n = await ann.mutate("set_status", {"id": first["id"], "status": "cancelled"})
    assert (await ann.outcome(n))["type"] == "ack"
    n = await meg.mutate("set_status", {"id": second["id"], "status": "cancelled"})
    assert (await meg.outcome(n))["type"] == "ack"
    for client in (ann, bob, meg):
        await client.close()


async def test_every_role_may_create_edit_assign_and_note(server):
    for user in ("ann", "meg", "adam"):
        client = await connect_as(server, user)
        row = await client.create()
        rid = row["id"]
        steps = [
            ("update_request", {"id": rid, "changes": {"description": "Three towels"}}),
            ("assign", {"id": rid, "assignee": "bob"}),
            ("add_note", {"id": rid, "text": "on it"}),
            ("set_status", {"id": rid, "status": "acknowledged"}),
        ]
        for name, args in steps:
            n = await client.mutate(name, args)
            answer = await client.outcome(n)
            assert answer["type"] == "ack", (user, name, answer)
        assert server.store.state.requests[rid].assignee == "bob"
        assert server.store.state.requests[rid].created_by == user
        await client.close()


async def test_an_invalid_transition_is_rejected_with_its_own_code(server):
    ann = await connect_as(server, "ann")
    row = await ann.create()
    n = await ann.mutate("set_status", {"id": row["id"], "status": "completed"})
    reject = await ann.outcome(n)
    assert reject["code"] == "invalid_transition" and reject["current"]["status"] == "pending"
    n = await ann.mutate("set_status", {"id": str(uuid.uuid4()), "status": "completed"})
    assert (await ann.outcome(n))["code"] == "not_found"
    await ann.close()


async def test_edits_of_different_fields_merge_and_of_the_same_field_conflict(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    row = await ann.create(description="Leak under the sink")
    rid, base = row["id"], row["version"]
    n = await ann.mutate("update_request", {"id": rid, "changes": {"room": "817"}}, base)
    assert (await ann.outcome(n))["request"]["version"] == base + 1
    # Bob edited the description on the old version: different field, it merges.
    n = await bob.mutate(
        "update_request", {"id": rid, "changes": {"description": "Leak, urgent"}}, base
    )
    merged = await bob.outcome(n)
    assert merged["type"] == "ack"
    assert merged["request"]["room"] == "817" and merged["request"]["description"] == "Leak, urgent"
    # Bob changes the room on the old version too: same field as Ann's edit, a conflict.
    n = await bob.mutate("update_request", {"id": rid, "changes": {"room": "818"}}, base)
    conflict = await bob.outcome(n)
    assert conflict["type"] == "reject" and conflict["code"] == "conflict"
    assert conflict["current"]["room"] == "817" and "room" in conflict["fields"]
    # Notes never conflict.
    n = await bob.mutate("add_note", {"id": rid, "text": "plumber called"}, base)
    assert (await bob.outcome(n))["type"] == "ack"
    await ann.close()
    await bob.close()


async def test_a_bulk_change_applies_to_all_or_none(server):
    meg = await connect_as(server, "meg")
    ann = await connect_as(server, "ann")
    rows = [await meg.create(room=str(100 + i)) for i in range(3)]
    ids = [r["id"] for r in rows]
    n = await meg.mutate("set_status", {"id": ids[0], "status": "cancelled"})
    await meg.outcome(n)
    head = server.store.state.head_seq
    n = await meg.mutate("bulk_set_status", {"ids": ids, "status": "acknowledged"})
    refused = await meg.outcome(n)
    assert refused["code"] == "invalid_transition" and list(refused["fields"]) == [ids[0]]
    assert server.store.state.head_seq == head
    assert all(server.store.state.requests[i].status == "pending" for i in ids[1:])

    n = await meg.mutate("bulk_set_status", {"ids": ids[1:], "status": "acknowledged"})
    ack = await meg.outcome(n)
    assert [r["status"] for r in ack["requests"]] == ["acknowledged", "acknowledged"]
    assert ack["seq"] == head + 2
    seen = [await ann.recv_until("change", where=lambda f: f["seq"] > head) for _ in range(2)]
    assert {c["request"]["id"] for c in seen} == set(ids[1:])
    await meg.close()
    await ann.close()


async def test_text_is_stored_exactly_as_typed_or_refused(server):
    ann = await connect_as(server, "ann")
    typed = "Guest says: [bold]hi[/] \x1b[2J\nsecond line ☕"
    row = await ann.create(description=typed)
    assert row["description"] == typed
    assert server.store.state.requests[row["id"]].description == typed
    n = await ann.mutate(
        "create_request",
        {
            "id": str(uuid.uuid4()),
            "room": "1\x00",
            "category": "other",
            "description": "x",
            "priority": "low",
        },
    )
    reject = await ann.outcome(n)
    assert reject["code"] == "invalid" and "room" in reject["fields"]
    n = await ann.mutate("add_note", {"id": row["id"], "text": "x" * 2001})
    assert (await ann.outcome(n))["code"] == "invalid"
    await ann.close()


# What each role may do: (what, mutation, args from (row id, other id), staff, manager, admin).
# ``True`` means acked, a string is the reject code. Rows are created by meg, so staff are
# never their creator.
POWERS = [
    (
        "edit",
        "update_request",
        lambda r, o: {"id": r, "changes": {"priority": "high"}},
        True,
        True,
        True,
    ),
    ("assign", "assign", lambda r, o: {"id": r, "assignee": "ann"}, True, True, True),
    ("note", "add_note", lambda r, o: {"id": r, "text": "seen"}, True, True, True),
    (
        "acknowledge",
        "set_status",
        lambda r, o: {"id": r, "status": "acknowledged"},
        True,
        True,
        True,
    ),
    (
        "cancel another's",
        "set_status",
        lambda r, o: {"id": o, "status": "cancelled"},
        "forbidden",
        True,
        True,
    ),
    (
        "bulk cancel",
        "bulk_set_status",
        lambda r, o: {"ids": [o], "status": "cancelled"},
        "forbidden",
        True,
        True,
    ),
]


async def test_each_role_gets_exactly_the_powers_the_design_gives_it(server):
    meg = await connect_as(server, "meg")
    clients = {
        "staff": await connect_as(server, "bob"),
        "manager": meg,
        "admin": await connect_as(server, "adam"),
    }
    for column, role in enumerate(("staff", "manager", "admin")):
        client = clients[role]
        for what, name, make_args, *expected in POWERS:
            row, other = await meg.create(), await meg.create()
            answer = await client.outcome(
                await client.mutate(name, make_args(row["id"], other["id"]))
            )
            want = expected[column]
            if want is True:
                assert answer["type"] == "ack", (role, what, answer)
            else:
                assert (answer["type"], answer["code"]) == ("reject", want), (role, what, answer)
        row = await meg.create()
        for status in ("in_progress", "completed"):
            await meg.outcome(await meg.mutate("set_status", {"id": row["id"], "status": status}))
        answer = await client.outcome(
            await client.mutate("set_status", {"id": row["id"], "status": "pending"})
        )
        assert answer["type"] == ("reject" if role == "staff" else "ack"), (role, "reopen")
    for client in clients.values():
        await client.close()
