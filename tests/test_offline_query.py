"""The queue's filters and sort orders, answered from the engine's in-memory index."""

from __future__ import annotations

import time
import uuid

from offline.engine import Engine, EngineConfig
from offline.index import ViewIndex
from protocol import Actor, Priority, Role, Status, apply_mutation, utcnow


async def test_filters_and_sorts_follow_edits(tmp_path):
    engine = await Engine.open(EngineConfig(data_dir=tmp_path / "meg", user="meg", role="manager"))
    try:
        made = {}
        for room, priority, text in [
            ("1204", "normal", "Two extra towels"),
            ("817", "urgent", "Leak under the sink"),
            ("95", "low", "Late checkout, 14:00"),
            ("Lobby", "high", "Taxi to the airport"),
        ]:
            row = await engine.create_request(
                room=room, category="concierge", description=text, priority=priority
            )
            made[room] = row.id

        assert engine.query(sort_key="room") == [made[r] for r in ("95", "817", "1204", "Lobby")]
        assert engine.query(sort_key="priority", descending=True)[0] == made["817"]
        assert engine.query("LEAK sink") == [made["817"]]
        assert engine.query("towels", statuses=["pending"]) == [made["1204"]]
        assert engine.query(priorities=["urgent", "high"], sort_key="room") == [
            made["817"],
            made["Lobby"],
        ]

        await engine.set_status(made["817"], "in_progress")
        await engine.assign(made["95"], "bob")
        assert engine.query(statuses=["in_progress"]) == [made["817"]]
        assert engine.query(statuses=["pending"], priorities=["urgent"]) == []
        assert engine.query(assignee="bob") == [made["95"]]
        assert engine.query("bob") == [made["95"]], "free text finds the assignee"
        assert len(engine.query(assignee="")) == 3, "empty assignee means unassigned"
        await engine.update_request(made["1204"], {"room": "12"})
        assert engine.query(sort_key="room")[:2] == [made["1204"], made["95"]]
    finally:
        await engine.close()


def test_query_at_100k_requests_stays_interactive():
    actor = Actor("ann", Role.STAFF)
    first = apply_mutation(
        "create_request",
        {
            "id": str(uuid.uuid4()),
            "room": "101",
            "category": "housekeeping",
            "description": "towels",
            "priority": "normal",
        },
        None,
        actor,
        utcnow(),
    )
    words = ["towels", "leak", "taxi", "pillow", "iron", "crib", "minibar"]
    statuses, priorities = list(Status), list(Priority)
    rows = {}
    for i in range(100_000):
        rid = str(uuid.uuid4())
        rows[rid] = first.model_copy(
            update={
                "id": rid,
                "number": i + 1,
                "room": str(100 + i % 1900),
                "status": statuses[i % 5],
                "priority": priorities[i % 4],
                "description": f"{words[i % 7]} {words[(i // 7) % 7]}",
            }
        )
    index = ViewIndex(rows)
    index.query("leak", statuses=["pending"], sort_key="room")  # builds the order once
    started = time.perf_counter()
    found = index.query("leak", statuses=["pending"], sort_key="room")
    took = time.perf_counter() - started
    assert found and all(rows[i].status == Status.PENDING for i in found)
    # 20 ms is the target on an idle machine; shared CI runners get some slack.
    assert took < 0.1, f"query took {took * 1000:.1f} ms"
