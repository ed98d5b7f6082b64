"""Alerts are records: raised into the request row, caught up, acknowledged once, rung again.

Each test runs on both stores (conftest parametrises ``test_server_*`` modules).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import make_config, start_server
from helpers import connect_as, wait_for


def alerts_of(frame: dict[str, Any]) -> list[dict[str, Any]]:
    return frame["request"]["alerts"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_catch_up_brings_an_alert_raised_while_a_terminal_was_away(server):
    night = await connect_as(server, "meg", hello=False)
    welcome = await night.hello()
    away_at = welcome["seq"]
    await night.close()
    ann = await connect_as(server, "ann")
    urgent = await ann.create(room="817", priority="urgent", description="Water through ceiling")
    assert [a["kind"] for a in urgent["alerts"]] == ["urgent"]
    back = await connect_as(server, "meg", hello=False)
    await back.hello(last_seq=away_at)
    caught = [
        c["request"]
        for f in back.received
        if f["type"] == "changes"
        for c in f["changes"]
        if c["request"]["id"] == urgent["id"]
    ]
    assert caught, "catch-up carries the urgent request"
    [alert] = caught[-1]["alerts"]
    assert alert["kind"] == "urgent" and alert["acknowledged_by"] is None
    await ann.close()
    await back.close()


async def test_an_acknowledgement_is_recorded_once_with_who_and_when(server):
    ann = await connect_as(server, "ann")
    meg = await connect_as(server, "meg")
    row = await ann.create(priority="urgent")
    n = await meg.mutate("acknowledge_alert", {"id": row["id"], "index": 0})
    first = await meg.outcome(n)
    assert first["type"] == "ack"
    [alert] = first["request"]["alerts"]
    assert alert["acknowledged_by"] == "meg" and alert["acknowledged_at"] is not None
    seen = await ann.recv_until(
        "change",
        where=lambda f: f["request"]["id"] == row["id"] and f["request"]["version"] > 1,
    )
    assert alerts_of(seen)[0]["acknowledged_by"] == "meg", "every terminal hears of it"
    # A second acknowledgement (the assignee, later) is acked and changes nothing.
    n = await ann.mutate("assign", {"id": row["id"], "assignee": "ann"})
    assigned = (await ann.outcome(n))["request"]
    n = await ann.mutate("acknowledge_alert", {"id": row["id"], "index": 0})
    again = await ann.outcome(n)
    assert again["type"] == "ack"
    assert again["request"]["version"] == assigned["version"], "nothing changed"
    assert alerts_of(again)[0]["acknowledged_by"] == "meg", "the first stays on record"
    marker = await ann.create(room="999")
    heard = await meg.recv_until("change", where=lambda f: f["request"]["id"] == marker["id"])
    versions = [
        f["request"]["version"]
        for f in meg.received
        if f["type"] == "change" and f["request"]["id"] == row["id"]
    ]
    assert heard and versions == [1, 2, assigned["version"]], "no change went out for the no-op"
    await ann.close()
    await meg.close()


async def test_staff_who_are_not_the_assignee_may_not_acknowledge(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    row = await ann.create(priority="urgent", assignee="bob")
    n = await ann.mutate("acknowledge_alert", {"id": row["id"], "index": 0})
    refused = await ann.outcome(n)
    assert refused["type"] == "reject" and refused["code"] == "forbidden"
    assert "assignee" in refused["message"]
    n = await bob.mutate("acknowledge_alert", {"id": row["id"], "index": 0})
    taken = await bob.outcome(n)
    assert taken["type"] == "ack" and alerts_of(taken)[0]["acknowledged_by"] == "bob"
    n = await bob.mutate("acknowledge_alert", {"id": row["id"], "index": 3})
    bad = await bob.outcome(n)
    assert bad["type"] == "reject" and bad["code"] == "invalid" and "index" in bad["fields"]
    await ann.close()
    await bob.close()


async def test_clients_cannot_make_the_servers_own_mutations(server):
    meg = await connect_as(server, "meg")
    row = await meg.create()
    for name, args in (
        ("raise_sla_alert", {"id": row["id"], "due_at": row["due_at"], "escalate": True}),
        ("ring_alerts", {"id": row["id"], "rung_before": row["due_at"]}),
    ):
        refused = await meg.outcome(await meg.mutate(name, args))
        assert refused["type"] == "reject" and refused["code"] == "forbidden", name
    await meg.close()


async def test_a_due_time_given_on_create_is_kept(server):
    ann = await connect_as(server, "ann")
    wake_up = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    row = await ann.create(category="front_desk", due_at=wake_up.isoformat())
    assert at(row["due_at"]) == wake_up
    n = await ann.mutate(
        "create_request",
        {
            "id": str(uuid.uuid4()),
            "room": "1",
            "category": "other",
            "description": "x",
            "priority": "low",
            "due_at": "06:00",
        },
    )
    bad = await ann.outcome(n)
    assert bad["type"] == "reject" and bad["fields"] == {
        "due_at": "must be an ISO 8601 time with zone"
    }
    await ann.close()


async def test_welcome_carries_the_directory_the_sla_table_and_the_repeat(server):
    ann = await connect_as(server, "ann", hello=False)
    welcome = await ann.hello()
    names = {e["name"]: e for e in welcome["staff"]}
    assert set(names) == {"ann", "bob", "meg", "adam"}
    assert names["meg"] == {"name": "meg", "role": "manager", "active": True}
    assert welcome["sla"]["priority_minutes"]["urgent"] == 15
    assert welcome["alert_repeat_seconds"] == 600
    await server.accounts.add_user("carl", "staff", "carl-pass-long")
    staff = await ann.recv_until("staff")
    assert "carl" in {e["name"] for e in staff["staff"]}
    await server.accounts.disable_user("carl")
    staff = await ann.recv_until("staff")
    assert {e["name"]: e["active"] for e in staff["staff"]}["carl"] is False
    await ann.close()


async def test_assignees_come_from_the_directory(server):
    ann = await connect_as(server, "ann")
    row = await ann.create()
    refused = await ann.outcome(await ann.mutate("assign", {"id": row["id"], "assignee": "bbo"}))
    assert refused["type"] == "reject" and refused["code"] == "invalid"
    assert refused["fields"] == {"assignee": "no account named bbo in the staff directory"}
    n = await ann.mutate(
        "create_request",
        {
            "id": str(uuid.uuid4()),
            "room": "1",
            "category": "other",
            "description": "x",
            "priority": "low",
            "assignee": "carl",
        },
    )
    assert (await ann.outcome(n))["fields"] == {
        "assignee": "no account named carl in the staff directory"
    }
    await server.accounts.add_user("carl", "staff", "carl-pass-long")
    await server.accounts.disable_user("carl")
    refused = await ann.outcome(await ann.mutate("assign", {"id": row["id"], "assignee": "carl"}))
    assert refused["fields"] == {"assignee": "carl is not an active account"}
    taken = await ann.outcome(await ann.mutate("assign", {"id": row["id"], "assignee": None}))
    assert taken["type"] == "ack", "nobody is always allowed"
    await ann.close()


async def test_the_bell_repeats_after_the_period_and_stops_when_acknowledged(tmp_path):
    config = make_config(tmp_path, alert_repeat_seconds=0.6, sla_check_seconds=0.05)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        meg = await connect_as(server, "meg")
        row = await ann.create(priority="urgent")
        first = await meg.recv_until("alert", where=lambda f: f["request"]["id"] == row["id"])
        assert first["index"] == 0 and first.get("repeat", False) is False
        again = await meg.recv_until(
            "alert", timeout=10, where=lambda f: f["request"]["id"] == row["id"]
        )
        assert again["index"] == 0 and again["repeat"] is True
        rung = [at(a["rung_at"]) for a in (alerts_of(first)[0], alerts_of(again)[0])]
        assert rung[1] - rung[0] >= timedelta(seconds=0.6), "not before the period"
        taken = await meg.outcome(
            await meg.mutate("acknowledge_alert", {"id": row["id"], "index": 0})
        )
        assert taken["type"] == "ack"
        acked_version = taken["request"]["version"]
        runs = server.job_runs["bells"]
        await wait_for(lambda: server.job_runs["bells"] >= runs + 3, timeout=10)
        marker = await ann.create(room="999")
        await meg.recv_until("change", where=lambda f: f["request"]["id"] == marker["id"])
        after = [
            f
            for f in meg.received
            if f["type"] in ("alert", "change")
            and f["request"]["id"] == row["id"]
            and f["request"]["version"] > acked_version
        ]
        assert after == [], "an acknowledged alert rings no more"
        await ann.close()
        await meg.close()
    finally:
        await server.close()


async def test_a_restart_repeats_nothing_early_and_loses_nothing(tmp_path):
    config = make_config(tmp_path, alert_repeat_seconds=1.5, sla_check_seconds=0.05)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        urgent = await ann.create(priority="urgent")
        past = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
        late = await ann.create(room="202", due_at=past)
        await ann.close()
    finally:
        await server.close()
    raised_at = at(urgent["alerts"][0]["rung_at"])
    server = await start_server(config)  # the late request's deadline passes while it starts
    try:
        meg = await connect_as(server, "meg")
        breach = await meg.recv_until(
            "alert", timeout=10, where=lambda f: f["request"]["id"] == late["id"]
        )
        assert breach["kind"] == "sla_breach", "a deadline passed across the restart is raised"
        repeat = await meg.recv_until(
            "alert", timeout=10, where=lambda f: f["request"]["id"] == urgent["id"]
        )
        assert repeat["repeat"] is True
        assert at(alerts_of(repeat)[0]["rung_at"]) - raised_at >= timedelta(seconds=1.5), (
            "the restart did not ring it early"
        )
        await meg.close()
    finally:
        await server.close()
