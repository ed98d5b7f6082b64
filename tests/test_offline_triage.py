"""The engine's triage assistant follows the replica: what is logged, closed, or recategorised."""

from __future__ import annotations

import asyncio

from offline_kit import new_request, open_engine


async def test_an_open_request_of_the_same_room_is_named_as_a_likely_duplicate(tmp_path):
    engine = await open_engine(tmp_path, None, "ann", start=False)
    try:
        towels = await new_request(engine, room="1204", description="2 extra towels please")
        await new_request(engine, room="1204", description="Leak under the sink")
        await new_request(engine, room="1205", description="towels")
        triage = engine.triage()
        await triage.settled()
        assert triage.duplicate("1204", "more towels") == engine.get(towels.id)
        assert triage.duplicate("1204", "Towles") == engine.get(towels.id)  # a typo
        assert triage.duplicate("1204", "extra pillows") is None
        assert triage.duplicate("1206", "towels") is None
        assert triage.duplicate("1204", "to") is None  # too little typed to say

        await engine.set_status(towels.id, "in_progress")
        await engine.set_status(towels.id, "completed")
        await triage.settled()
        assert triage.duplicate("1204", "more towels") is None  # done: no longer open
    finally:
        await engine.close()


async def test_suggestions_learn_from_requests_as_they_are_logged_and_corrected(tmp_path):
    engine = await open_engine(tmp_path, None, "ann", start=False)
    try:
        triage = engine.triage()
        await triage.built()
        assert triage.suggest("minibar restock").category == "room_service"
        logged = [
            await new_request(engine, description=f"minibar restock {n}", category="concierge")
            for n in range(25)
        ]
        await triage.settled()
        assert triage.suggest("minibar restock").category == "concierge"
        for row in logged:  # the desk corrects them: housekeeping does the minibars here
            await engine.update_request(row.id, {"category": "housekeeping"})
        await triage.settled()
        assert triage.suggest("minibar restock").category == "housekeeping"
        assert triage.model.history == 25
    finally:
        await engine.close()


async def test_closing_the_engine_stops_the_assistant(tmp_path):
    engine = await open_engine(tmp_path, None, "ann", start=False)
    triage = engine.triage()
    await engine.close()
    assert all(t.done() for t in asyncio.all_tasks() if t.get_name() == "frontdesk-triage")
    assert triage.suggest("no hot water").category == "maintenance"  # answers from memory
