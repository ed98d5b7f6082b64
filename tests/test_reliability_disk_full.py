"""A full disk refuses writes clearly, keeps reads and catch-up going, and heals by itself.

The disk is "filled" the way SQLite itself sees it: ``PRAGMA max_page_count`` on the server's
writer connection is set to the pages the database already has, so the next growing commit fails
with SQLITE_FULL ("database or disk is full"), exactly as on a full partition. While full:
writes are refused with a clear signal (an ``error`` frame with code ``unavailable`` or a close
with 1013 "try again later"), nothing is half-applied, and reads (``/api/v1/requests``) and
catch-up (a new terminal's ``hello``) still work. When space returns, the same mutations, resent,
are applied exactly once, with no restart.
"""

from __future__ import annotations

import sqlite3
import uuid

import httpx
from helpers import connect_as, token_for
from websockets.exceptions import ConnectionClosed


async def fill_the_disk(server) -> int:
    """Cap the database at its current size; returns the old cap."""
    db = server.store.db
    (pages,) = await (await db.execute("PRAGMA page_count")).fetchone()
    (cap,) = await (await db.execute("PRAGMA max_page_count")).fetchone()
    await db.execute(f"PRAGMA max_page_count = {pages}")
    return cap


async def test_a_full_disk_refuses_writes_clearly_keeps_serving_reads_and_recovers(server):
    ann = await connect_as(server, "ann")
    first = await ann.create(room="101")
    cap = await fill_the_disk(server)

    # Writes are refused with a clear signal, and none is half-applied.
    big = "x" * 1900
    rows = [str(uuid.uuid4()) for _ in range(40)]
    sent = []
    refused: dict | None = None
    try:
        for rid in rows:
            n = await ann.mutate(
                "create_request",
                {
                    "id": rid,
                    "room": "102",
                    "category": "other",
                    "description": big,
                    "priority": "low",
                },
            )
            sent.append((n, rid))
        while refused is None:
            frame = await ann.recv(timeout=10)
            if frame["type"] == "error" or (frame["type"] == "reject" and frame["n"] > 1):
                refused = frame
    except ConnectionClosed:
        refused = {"close": ann.ws.close_code, "reason": ann.ws.close_reason}
    assert refused is not None
    assert refused.get("close") == 1013 or refused.get("code") == "unavailable", refused
    acked = {f["n"] for f in ann.received if f["type"] == "ack"}
    assert len(acked) < len(rows) + 1, "the disk never filled up"
    for n, rid in sent:
        assert (rid in server.store.state.requests) == (n in acked), f"mutation {n} half-applied"

    # Reads and catch-up still work while the disk is full.
    meg = await connect_as(server, "meg")  # hello + catch-up up to synced
    assert any(f["type"] == "synced" for f in meg.received)
    token = await token_for(server, "meg", "meg-pass")
    async with httpx.AsyncClient(base_url=server.url) as http:
        listing = await http.get("/api/v1/requests", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    assert first["id"] in {r["id"] for r in listing.json()["requests"]}
    await meg.close()

    # Space comes back: the same mutations, resent, apply once each, with no restart.
    await server.store.db.execute(f"PRAGMA max_page_count = {cap}")
    again = await connect_as(server, "ann", client_id=ann.client_id)
    for n, rid in sent:
        await again.mutate(
            "create_request",
            {"id": rid, "room": "102", "category": "other", "description": big, "priority": "low"},
            n=n,
        )
    last = await again.outcome(sent[-1][0], timeout=20)
    assert last["type"] == "ack", last
    answers = [f for f in again.received if f["type"] in ("ack", "reject")]
    assert all(f["type"] == "ack" for f in answers), [f for f in answers if f["type"] != "ack"]
    assert all(rid in server.store.state.requests for _, rid in sent)
    await again.close()
    db = sqlite3.connect(f"file:{server.config.db_path}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        dup = db.execute(
            "SELECT n FROM changes WHERE client_id = ? GROUP BY n HAVING count(*) > 1",
            (ann.client_id,),
        ).fetchall()
        assert dup == []
    finally:
        db.close()
