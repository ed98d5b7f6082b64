"""Live traffic: channels, presence, alerts that a night manager cannot miss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from conftest import make_config, start_server
from helpers import connect_as, wait_for
from prometheus_client.parser import text_string_to_metric_families


async def test_a_room_channel_only_hears_about_its_room(server):
    ann = await connect_as(server, "ann")
    night = await connect_as(server, "meg")
    await night.send({"type": "subscribe", "channels": ["room:817", "assignee:bob"]})
    assert (await night.recv_until("subscribed"))["channels"] == ["assignee:bob", "room:817"]
    await ann.create(room="1204")
    leak = await ann.create(room="817", description="Leak")
    other = await ann.create(room="300")
    n = await ann.mutate("assign", {"id": other["id"], "assignee": "bob"})
    await ann.outcome(n)
    first = await night.recv_until("change")
    second = await night.recv_until("change")
    assert first["request"]["id"] == leak["id"]
    assert second["request"]["id"] == other["id"] and second["request"]["assignee"] == "bob"
    await ann.close()
    await night.close()


async def test_a_bad_channel_is_an_error_and_the_connection_stays(server):
    ann = await connect_as(server, "ann")
    await ann.send({"type": "subscribe", "channels": ["everything"]})
    assert (await ann.recv_until("error"))["code"] == "invalid_frame"
    await ann.send({"type": "subscribe", "channels": ["urgent"]})
    assert (await ann.recv_until("subscribed"))["channels"] == ["urgent"]
    await ann.close()


async def test_an_urgent_request_raises_an_alert_for_everyone_watching(server):
    ann = await connect_as(server, "ann")
    night = await connect_as(server, "meg")
    await night.send({"type": "subscribe", "channels": ["urgent"]})
    await night.recv_until("subscribed")
    calm = await ann.create(priority="normal")
    fire = await ann.create(priority="urgent", description="Smoke in the corridor")
    alert = await night.recv_until("alert")
    assert alert["kind"] == "urgent" and alert["request"]["id"] == fire["id"]
    n = await ann.mutate("update_request", {"id": calm["id"], "changes": {"priority": "urgent"}})
    await ann.outcome(n)
    raised = await night.recv_until("alert")
    assert raised["kind"] == "urgent" and raised["request"]["id"] == calm["id"]
    await ann.recv_until("alert", where=lambda f: f["request"]["id"] == calm["id"])
    alerts = [f["request"]["id"] for f in ann.received if f["type"] == "alert"]
    assert alerts == [fire["id"], calm["id"]]
    await ann.close()
    await night.close()


async def test_presence_shows_who_is_online_and_what_they_view(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    row = await ann.create()
    await ann.send({"type": "presence", "viewing": row["id"], "editing": True})
    frame = await bob.recv_until(
        "presence", where=lambda f: any(u["viewing"] == row["id"] for u in f["users"])
    )
    users = {u["user"]: u for u in frame["users"]}
    assert set(users) == {"ann", "bob"}
    assert users["ann"]["editing"] is True and users["ann"]["role"] == "staff"
    await ann.close()
    gone = await bob.recv_until(
        "presence", where=lambda f: [u["user"] for u in f["users"]] == ["bob"]
    )
    assert gone["users"][0]["viewing"] is None
    await bob.close()


async def test_a_missed_deadline_alerts_once_and_escalates(tmp_path):
    config = make_config(tmp_path, sla_check_seconds=0.05)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        row = await ann.create(priority="normal")
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        n = await ann.mutate("update_request", {"id": row["id"], "changes": {"due_at": past}})
        await ann.outcome(n)
        breach = await ann.recv_until("alert")
        assert breach["kind"] == "sla_breach" and breach["request"]["id"] == row["id"]
        escalated = await ann.recv_until("alert")
        assert escalated["kind"] == "escalated"
        assert escalated["request"]["priority"] == "high"
        stored = server.store.state.requests[row["id"]]
        assert stored.priority == "high" and not stored.is_overdue(datetime.now(UTC))
        history = await server.store.history(row["id"])
        assert history[-1]["by"]["user"] == "system"
        await ann.close()
    finally:
        await server.close()


async def alerts_counted(server, kind: str) -> float:
    """``frontdesk_alerts_total`` of ``kind`` as ``/metrics`` shows it (0 when not raised yet)."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "frontdesk_alerts"]
    return sum(
        s.value for s in family.samples if s.name.endswith("_total") and s.labels["kind"] == kind
    )


async def test_a_breach_alerted_before_a_restart_is_not_alerted_again(tmp_path):
    config = make_config(tmp_path, sla_check_seconds=0.05, escalate=False)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        row = await ann.create()
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        n = await ann.mutate("update_request", {"id": row["id"], "changes": {"due_at": past}})
        await ann.outcome(n)
        assert (await ann.recv_until("alert"))["kind"] == "sla_breach"
        assert await alerts_counted(server, "sla_breach") == 1
        await ann.close()
    finally:
        await server.close()
    server = await start_server(config)
    try:
        watcher = await connect_as(server, "meg")
        runs = server.job_runs["sla"]
        await wait_for(lambda: server.job_runs["sla"] >= runs + 3, message="sla job did not run")
        assert await alerts_counted(server, "sla_breach") == 0
        assert not [f for f in watcher.received if f["type"] == "alert"]
        await watcher.close()
    finally:
        await server.close()


async def test_deadlines_alert_when_they_come_up_again_when_moved_and_never_when_done(tmp_path):
    """The SLA job looks only at requests whose deadline came up (a heap, not a scan of every
    row): a deadline still ahead alerts when it passes, a moved deadline alerts again, and a
    request completed in time never alerts."""
    config = make_config(tmp_path, sla_check_seconds=0.05, escalate=False)
    server = await start_server(config)
    try:
        ann = await connect_as(server, "ann")
        soon, done = await ann.create(), await ann.create()
        for row in (soon, done):
            due = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
            await ann.outcome(
                await ann.mutate("update_request", {"id": row["id"], "changes": {"due_at": due}})
            )
        for status in ("in_progress", "completed"):
            await ann.outcome(await ann.mutate("set_status", {"id": done["id"], "status": status}))
        breach = await ann.recv_until("alert", timeout=5)
        assert breach["kind"] == "sla_breach" and breach["request"]["id"] == soon["id"]
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        await ann.outcome(
            await ann.mutate("update_request", {"id": soon["id"], "changes": {"due_at": past}})
        )
        again = await ann.recv_until("alert", timeout=5)
        assert (
            again["request"]["id"] == soon["id"]
            and again["request"]["due_at"] != (breach["request"]["due_at"])
        )
        runs = server.job_runs["sla"]
        await wait_for(lambda: server.job_runs["sla"] >= runs + 3, message="sla job did not run")
        alerts = [f for f in ann.received if f["type"] == "alert"]
        assert [a["request"]["id"] for a in alerts] == [soon["id"], soon["id"]]
        await ann.close()
    finally:
        await server.close()


async def test_a_room_channel_sees_a_request_move_out_of_the_room(server):
    ann = await connect_as(server, "ann")
    floor = await connect_as(server, "bob")
    await floor.send({"type": "subscribe", "channels": ["room:817"]})
    await floor.recv_until("subscribed")
    row = await ann.create(room="817")
    await floor.recv_until("change")
    n = await ann.mutate("update_request", {"id": row["id"], "changes": {"room": "900"}})
    await ann.outcome(n)
    moved = await floor.recv_until("change")
    assert moved["request"]["room"] == "900"
    await ann.create(room="900")  # no longer anything to do with room 817
    marker = await ann.create(room="817")
    assert (await floor.recv_until("change"))["request"]["id"] == marker["id"]
    await ann.close()
    await floor.close()
