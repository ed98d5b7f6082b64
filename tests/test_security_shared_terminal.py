"""One terminal, two shifts: edits one person left pending are never sent as someone else's.

A front-desk terminal is shared across shifts (one replica and client_id per installation). Ann
logs a request and a note during an outage and signs out with them still pending; Bob signs in
on the same terminal. Whatever the engine does with Ann's pending edits (keep them for Ann,
refuse to open for Bob until they are sent, ask), the server must never record them as Bob's:
``created_by`` and note authors are the audit trail of who did what.
"""

from __future__ import annotations

from helpers import token_for, wait_for

from offline.engine import Engine, EngineConfig
from offline.errors import OfflineError
from protocol import Role


async def test_edits_left_pending_by_one_user_are_never_sent_as_another(server, tmp_path):
    desk = tmp_path / "front-desk-terminal"
    ann = await Engine.open(EngineConfig(data_dir=desk, user="ann", role=Role.STAFF))
    hers = await ann.create_request(
        room="1204", category="housekeeping", description="towels (ann)", priority="low"
    )
    await ann.add_note(hers.id, "written by ann")
    await ann.close()

    config = EngineConfig(
        data_dir=desk,
        user="bob",
        role=Role.STAFF,
        server_url=server.url,
        token=await token_for(server, "bob", "bob-pass"),
    )
    try:
        bob = await Engine.open(config)
    except OfflineError:
        return  # refusing to switch user with someone else's edits pending is fine too
    try:
        await bob.start()
        his = await bob.create_request(
            room="817", category="maintenance", description="leak (bob)", priority="high"
        )
        await wait_for(lambda: his.id in server.store.state.requests, message="bob's edit arrives")
        row = server.store.state.requests.get(hers.id)
        if row is not None:
            assert row.created_by == "ann", f"ann's request recorded as {row.created_by}'s"
            assert [n.author for n in row.notes] in ([], ["ann"]), "ann's note as bob's"
    finally:
        await bob.close()
