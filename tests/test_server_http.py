"""The plain-HTTP side: metrics, the stats panel, listings and a request's history."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest
from conftest import make_config, start_server
from helpers import connect_as, token_for


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_are_in_prometheus_text_format(server):
    ann = await connect_as(server, "ann")
    await ann.create()
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'frontdesk_mutations_total{name="create_request",outcome="ack"} 1.0' in text
    assert "frontdesk_commit_seconds_bucket" in text
    assert "frontdesk_connections 1.0" in text
    await ann.close()
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_the_stats_panel_needs_a_manager_and_counts_what_is_there(server):
    ann = await connect_as(server, "ann")
    urgent = await ann.create(priority="urgent", category="maintenance")
    await ann.create(priority="low")
    n = await ann.mutate("set_status", {"id": urgent["id"], "status": "acknowledged"})
    await ann.outcome(n)
    staff = await token_for(server, "ann", "ann-pass")
    manager = await token_for(server, "meg", "meg-pass")
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/api/v1/stats")).status_code == 401
        assert (await http.get("/api/v1/stats", headers=bearer(staff))).status_code == 403
        answer = await http.get("/api/v1/stats", headers=bearer(manager))
        assert answer.status_code == 200
        stats = answer.json()
        again = (await http.get("/api/v1/stats", headers=bearer(manager))).json()
    assert stats["total"] == 2
    assert stats["by_status"]["acknowledged"] == 1 and stats["by_status"]["pending"] == 1
    assert stats["by_priority"]["urgent"] == 1 and stats["open_urgent"] == 1
    assert stats["by_category"]["maintenance"] == 1
    assert stats["time_to_acknowledge_24h"]["maintenance"]["count"] == 1
    assert stats["connections"] == 1 and stats["commit_ms"]["p50"] is not None
    assert again["cache_hit_rate"] == 0.5
    await ann.close()


async def test_requests_can_be_listed_filtered_and_paged(server):
    ann = await connect_as(server, "ann")
    made = [await ann.create(room="817" if i % 2 else "101") for i in range(5)]
    n = await ann.mutate("assign", {"id": made[0]["id"], "assignee": "bob"})
    await ann.outcome(n)
    token = await token_for(server, "bob", "bob-pass")
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(token)) as http:
        assert (
            await httpx.AsyncClient(base_url=server.url).get("/api/v1/requests")
        ).status_code == 401
        rooms = (await http.get("/api/v1/requests", params={"room": "817"})).json()
        assert [r["room"] for r in rooms["requests"]] == ["817", "817"]
        mine = (await http.get("/api/v1/requests", params={"assignee": "bob"})).json()
        assert [r["id"] for r in mine["requests"]] == [made[0]["id"]]
        seen, cursor = [], None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/api/v1/requests", params=params)).json()
            seen += [r["number"] for r in page["requests"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(r["number"] for r in made)
        future = await http.get("/api/v1/requests", params={"since": "2999-01-01T00:00:00Z"})
        assert future.json()["requests"] == []
        bad = await http.get("/api/v1/requests", params={"status": "lost"})
        assert bad.status_code == 400 and "status" in bad.json()["error"]
        for cursor in ("9" * 30, "-1", "x"):
            assert (
                await http.get("/api/v1/requests", params={"cursor": cursor})
            ).status_code == 400
    await ann.close()


async def test_a_request_has_an_audit_trail(server):
    ann = await connect_as(server, "ann")
    row = await ann.create()
    n = await ann.mutate("add_note", {"id": row["id"], "text": "called the guest"})
    await ann.outcome(n)
    token = await token_for(server, "ann", "ann-pass")
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(token)) as http:
        trail = (await http.get(f"/api/v1/requests/{row['id']}/history")).json()["history"]
        assert [e["mutation"] for e in trail] == ["create_request", "add_note"]
        assert trail[1]["by"] == {"user": "ann", "client_id": ann.client_id, "n": 2}
        assert trail[1]["request"]["notes"][0]["text"] == "called the guest"
        missing = await http.get("/api/v1/requests/00000000-0000-4000-8000-000000000000/history")
        assert missing.status_code == 404
    await ann.close()


async def test_repeated_wrong_passwords_are_slowed_down(tmp_path):
    server = await start_server(make_config(tmp_path, login_delay_base=0.1))
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            for _ in range(3):
                assert (await http.get("/api/v1/token", auth=("bob", "nope"))).status_code == 401
            started = time.monotonic()
            assert (await http.get("/api/v1/token", auth=("bob", "nope"))).status_code == 401
            assert time.monotonic() - started >= 0.4  # 0.1 * 2**2 after three failures
            # Somebody else is not slowed down by bob's failures... except from the same address,
            # which is the point of counting addresses too.
            good = await http.get("/api/v1/token", auth=("bob", "bob-pass"))
            assert good.status_code == 200
            fast = time.monotonic()
            assert (await http.get("/api/v1/token", auth=("bob", "bob-pass"))).status_code == 200
            assert time.monotonic() - fast < 0.4
    finally:
        await server.close()
