"""Pushing a long outbox: a window of mutations in flight, cut mid-way, still exactly once."""

from __future__ import annotations

from conftest import make_config, start_server
from faults import FaultyProxy, pick_seed
from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.events import EngineEvent, MutationRejected, ViewChanged

COUNT = 700


async def test_a_window_larger_than_the_servers_lane_resends_exactly_once_after_a_cut(tmp_path):
    """More in flight than the server's lane holds (TCP pushes back), the connection cut while
    hundreds are unanswered: every edit is applied once, none twice, none lost."""
    server = await start_server(make_config(tmp_path))
    proxy = await FaultyProxy(server.port, pick_seed()).start()
    try:
        ann = await open_engine(tmp_path, None, "ann", start=False)
        made = [(await new_request(ann, room=str(100 + i % 900))).id for i in range(COUNT)]
        await ann.close()

        ann = await open_engine(
            tmp_path,
            server,
            "ann",
            url=proxy.url,
            start=False,
            push_window=1024,
            backoff_base=0.01,
            backoff_cap=0.05,
        )
        refused: list[EngineEvent] = []
        ann.subscribe(lambda e: refused.append(e) if isinstance(e, MutationRejected) else None)
        try:
            await ann.start()
            await wait_for(lambda: ann.status.pending < COUNT - 50, timeout=20, message="pushing")
            assert proxy.cut_all() >= 1, "cut while mutations are in flight"
            await wait_for(
                lambda: proxy.counts.connections >= 2 and online(ann) and drained(ann),
                timeout=30,
                message="reconnected and drained",
            )
            assert not refused, [e.message for e in refused]  # no duplicate, no loss
            mine = [r for r in server.store.state.requests.values() if r.created_by == "ann"]
            assert sorted(r.id for r in mine) == sorted(made), "each edit applied exactly once"
            assert sorted(r.number for r in mine) == list(range(1, COUNT + 1))
            assert all(ann.get(i).number is not None for i in made)
        finally:
            await ann.close()
    finally:
        await proxy.close()
        await server.close()


async def test_an_acked_edit_refreshes_its_authors_view_once(server, tmp_path):
    """The server answers an edit with an ack and echoes it as a change with the same row:
    the author's view moves once (pending → confirmed), not once more for the echo."""
    ann = await open_engine(tmp_path, server, "ann")
    bob = await open_engine(tmp_path, server, "bob")
    seen: list[frozenset[str]] = []
    ann.subscribe(lambda e: seen.append(e.ids) if isinstance(e, ViewChanged) else None)
    try:
        await wait_for(lambda: online(ann) and online(bob), message="both online")
        mine = await new_request(ann, room="501")
        seen.clear()
        await wait_for(lambda: drained(ann), message="acked")
        # Bob's later edit reaches Ann after the echo of hers (changes come in seq order).
        later = await new_request(bob, room="502")
        await wait_for(lambda: ann.get(later.id) is not None, message="ann sees bob's")
        assert ann.get(mine.id).number is not None
        assert sum(mine.id in ids for ids in seen) == 1, seen
    finally:
        await ann.close()
        await bob.close()
