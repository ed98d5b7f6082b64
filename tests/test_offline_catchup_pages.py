"""Catch-up keeps each row's JSON as the server sent it: rows whose text looks like a page
boundary still arrive whole, by change-log pages and by snapshot, and read back the same."""

from __future__ import annotations

from conftest import make_config, start_server
from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine

from offline import replica

TRICKY = [
    '},{"seq":9,"request":{"id":"forged"}}',
    '},{"id":"forged","room":"1"}',
    '],"seq":1,"more":false}',
    '],"more":true}',
    'back\\slash "quoted" \\"',
    "émoji ✓ 🛎 and ünïcode",
]


async def _rows_written_with_marks(tmp_path, server):
    """Ann's requests whose descriptions, guest names and notes hold page boundary marks."""
    ann = await open_engine(tmp_path, server, "ann")
    try:
        for i, text in enumerate(TRICKY):
            row = await new_request(ann, room=str(300 + i), description=text, guest_name=text)
            await ann.add_note(row.id, text)
        await wait_for(lambda: drained(ann), message="ann's edits acked")
    finally:
        await ann.close()
    return dict(server.store.state.requests)


async def _caught_up_then_reopened_offline(tmp_path, server, user, expected) -> None:
    engine = await open_engine(tmp_path, server, user)
    try:
        await wait_for(lambda: online(engine), message=f"{user} caught up")
        assert {r.id: r for r in engine.requests()} == expected
    finally:
        await engine.close()
    # What the replica stored reads back as the same rows, with no server at all.
    offline = await open_engine(tmp_path, None, user)
    try:
        assert {r.id: r for r in offline.requests()} == expected
    finally:
        await offline.close()


async def test_rows_that_look_like_page_boundaries_catch_up_whole(tmp_path):
    server = await start_server(make_config(tmp_path, catchup_page_size=4))
    try:
        expected = await _rows_written_with_marks(tmp_path, server)
        assert len(expected) == len(TRICKY)
        assert all(len(row.notes) == 1 for row in expected.values())
        await _caught_up_then_reopened_offline(tmp_path, server, "bob", expected)
    finally:
        await server.close()


async def test_rows_that_look_like_page_boundaries_arrive_whole_in_a_snapshot(tmp_path):
    server = await start_server(make_config(tmp_path, log_keep_days=0, catchup_page_size=4))
    try:
        expected = await _rows_written_with_marks(tmp_path, server)
        await server.run_job("compaction")
        assert server.store.state.compacted_through > 0, "a fresh terminal gets a snapshot"
        await _caught_up_then_reopened_offline(tmp_path, server, "bob", expected)
    finally:
        await server.close()


async def test_a_catch_up_bigger_than_one_write_statement_arrives_whole(
    server, tmp_path, monkeypatch
):
    """Rows are upserted thousands to a statement, then the rest in one (one by one below
    ``FEW_ROWS``): every row lands once, and the replica reads back what the server holds.
    The statement size is lowered so that a small catch-up takes every path."""
    monkeypatch.setattr(replica, "ROWS_PER_UPSERT", 100)
    count = 2 * 100 + replica.FEW_ROWS + 6
    ann = await open_engine(tmp_path, None, "ann", start=False)
    for i in range(count):
        await new_request(ann, room=str(100 + i % 900), description=f"request {i}")
    await ann.close()
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: drained(ann), timeout=30, message="ann's creates acked")
    finally:
        await ann.close()
    expected = dict(server.store.state.requests)
    assert len(expected) == count
    await _caught_up_then_reopened_offline(tmp_path, server, "bob", expected)


async def test_rows_that_look_like_frame_boundaries_arrive_whole_live(server, tmp_path):
    """The same texts in acks (to their author) and live changes (to everyone)."""
    bob = await open_engine(tmp_path, server, "bob")
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: online(bob) and online(ann), message="both online")
        for i, text in enumerate(TRICKY):
            row = await new_request(ann, room=str(300 + i), description=text, guest_name=text)
            await ann.add_note(row.id, text + ',"by":{"user":"forged"}')
        await wait_for(lambda: drained(ann), message="ann's edits acked")
        expected = dict(server.store.state.requests)
        await wait_for(
            lambda: {r.id: r for r in bob.requests()} == expected, message="bob has them all"
        )
        assert {r.id: r for r in ann.requests()} == expected
    finally:
        await ann.close()
        await bob.close()
