"""A terminal keeps the working set; older requests are looked up on the server, and edited.

A new terminal's catch-up brings open requests and those closed within its window (0 days
here, so anything closed before it connected is outside). A lookup by room finds the older
one on the server, it joins the replica, an edit of it reaches the server; once it ages out it
is let go again, and offline a lookup says in words what it cannot see.
"""

from __future__ import annotations

from conftest import SIZE, make_config, offline_app, ready, start_server, toast_texts
from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine


async def test_an_old_closed_request_is_looked_up_edited_and_kept_in_the_replica(tmp_path):
    server = await start_server(make_config(tmp_path, snapshot_log_entries=0))
    ann = bob = None
    try:
        ann = await open_engine(tmp_path, server, "ann")
        await wait_for(lambda: online(ann), message="ann online")
        old = await new_request(ann, room="1204", guest_name="Chloé Martin")
        await ann.set_status(old.id, "in_progress")
        await ann.set_status(old.id, "completed")
        still_open = await new_request(ann, room="817")
        await wait_for(lambda: drained(ann), message="ann's edits acknowledged")

        bob = await open_engine(tmp_path, server, "bob", window_days=0)
        await wait_for(lambda: bob.get(still_open.id) is not None, message="bob caught up")
        assert bob.get(old.id) is None  # closed before bob's window

        found = await bob.lookup(room="1204")
        assert found.complete and found.note is None
        assert [r.id for r in found.rows] == [old.id]
        assert (await bob.lookup(guest="chloé")).rows == found.rows
        assert bob.get(old.id) is not None  # joined the replica: it can be edited

        await bob.add_note(old.id, "Guest asked for the receipt")
        await wait_for(lambda: drained(bob), message="bob's note acknowledged")
        server_row = server.store.state.requests.get(old.id)
        assert server_row is not None and [n.text for n in server_row.notes] == [
            "Guest asked for the receipt"
        ]
        await wait_for(lambda: bob.get(old.id).version == server_row.version)

        assert await bob.evict_aged() == 1  # closed, and outside a 0-day window again
        assert bob.get(old.id) is None and bob.get(still_open.id) is not None

        await server.close()
        await wait_for(lambda: not online(bob), message="bob offline")
        offline = await bob.lookup(room="1204")
        assert not offline.complete and offline.rows == []
        assert offline.note == (
            "requests closed more than 0 days ago are on the server; reconnect to look them up"
        )
    finally:
        for engine in (ann, bob):
            if engine is not None:
                await engine.close()
        await server.close()


async def test_an_offline_search_that_finds_nothing_says_where_older_requests_are(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(app, pilot)
        await pilot.press("slash", *"1204", "enter")
        await wait_for(
            lambda: any("reconnect to look them up" in t for t in toast_texts(app)),
            message="the offline lookup's note is shown",
        )
        (note,) = [t for t in toast_texts(app) if "on the server" in t]
        assert "requests closed more than 14 days ago are on the server" in note
