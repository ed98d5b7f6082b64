"""Two frontdesk windows on one terminal share a data directory: one syncs, the other follows."""

from __future__ import annotations

from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.events import EngineEvent, MutationRejected
from protocol import Role, Status


async def test_second_window_follows_the_first_and_its_edits_are_pushed(server, tmp_path):
    leader = await open_engine(tmp_path, server, "ann")
    follower = await open_engine(tmp_path, server, "ann")
    try:
        assert leader.is_leader and not follower.is_leader
        assert follower.status.follower
        await wait_for(lambda: online(leader), message="leader online")
        await wait_for(lambda: online(follower), timeout=2, message="follower shows online")

        mine = await new_request(follower, description="Crib for 512")
        assert follower.is_pending(mine.id), "shown at once in the window that made it"
        await wait_for(
            lambda: follower.get(mine.id) is not None and follower.get(mine.id).number,
            timeout=3,
            message="pushed by the leader, numbered by the server",
        )
        assert leader.get(mine.id).number == follower.get(mine.id).number

        await leader.set_status(mine.id, "in_progress")
        await wait_for(
            lambda: follower.get(mine.id).status == Status.IN_PROGRESS,
            timeout=1.5,
            message="the leader's edit shows in the follower within a second",
        )
        await wait_for(lambda: drained(leader) and drained(follower), timeout=3)
    finally:
        await follower.close()
        await leader.close()


async def test_follower_takes_over_when_the_leader_goes(server, tmp_path):
    leader = await open_engine(tmp_path, server, "ann")
    follower = await open_engine(tmp_path, server, "ann")
    try:
        first = await new_request(leader)
        await wait_for(lambda: drained(leader), message="acked")
        await wait_for(lambda: follower.get(first.id) is not None, timeout=2, message="seen")
        await leader.close()  # the lock goes with it, as when the process dies

        note = await follower.add_note(first.id, "written while the leader was gone")
        assert note.notes[-1].text == "written while the leader was gone"
        await wait_for(lambda: follower.is_leader, timeout=2, message="takes over within 2 s")
        await wait_for(lambda: drained(follower) and online(follower), timeout=5)
        assert [n.text for n in follower.get(first.id).notes] == [
            "written while the leader was gone"
        ]
        numbers = [m.n for m in follower.pending_mutations()]
        assert numbers == sorted(set(numbers))

        again = await open_engine(tmp_path, server, "ann")
        try:
            assert not again.is_leader, "the old window comes back as a follower"
            await again.add_note(first.id, "second note")
            await wait_for(
                lambda: len(follower.get(first.id).notes) == 2 and drained(follower), timeout=3
            )
            assert [n.text for n in follower.get(first.id).notes] == [
                "written while the leader was gone",
                "second note",
            ]
        finally:
            await again.close()
    finally:
        await follower.close()


async def test_a_rejection_is_told_in_the_window_that_made_the_edit(server, tmp_path):
    leader = await open_engine(tmp_path, server, "bob")
    # The second window still believes bob is a manager; the server knows better.
    follower = await open_engine(tmp_path, server, "bob", role=Role.MANAGER)
    events: list[EngineEvent] = []
    follower.subscribe(events.append)
    try:
        request = await new_request(leader)
        await wait_for(lambda: drained(leader), message="acked")
        await wait_for(lambda: follower.get(request.id) is not None, timeout=2)
        await follower.bulk_set_status([request.id], "acknowledged")
        await wait_for(
            lambda: any(isinstance(e, MutationRejected) for e in events),
            timeout=3,
            message="the follower tells its user",
        )
        rejected = next(e for e in events if isinstance(e, MutationRejected))
        assert rejected.code == "forbidden" and rejected.name == "bulk_set_status"
        assert follower.get(request.id).status == Status.PENDING
    finally:
        await follower.close()
        await leader.close()


async def test_edits_from_both_windows_interleaved_all_arrive_once_in_order(server, tmp_path):
    """Several rounds, because what broke here was a race: the leader's queued replica write
    began its transaction while another of its tasks held a read open on the same connection,
    SQLite said "database is locked" at once, the pusher died and the outbox stalled."""
    leader = await open_engine(tmp_path, server, "ann")
    follower = await open_engine(tmp_path, server, "ann")
    told: list[EngineEvent] = []
    for engine in (leader, follower):
        engine.subscribe(lambda e: told.append(e) if isinstance(e, MutationRejected) else None)
    try:
        for _round in range(4):
            rid = (await new_request(leader)).id
            await wait_for(lambda rid=rid: follower.get(rid) is not None, timeout=2, message="seen")
            for i in range(12):
                window = leader if i % 2 else follower
                await window.add_note(rid, f"note {i}")
            await wait_for(
                lambda rid=rid: (
                    drained(leader) and drained(follower) and len(leader.get(rid).notes) == 12
                ),
                timeout=10,
                message="every note delivered",
            )
            assert not told, f"refused: {told}"
            texts = [n.text for n in leader.get(rid).notes]
            assert texts == [f"note {i}" for i in range(12)], "n order is the order they were made"
            await wait_for(lambda rid=rid: len(follower.get(rid).notes) == 12, timeout=2)
    finally:
        await follower.close()
        await leader.close()
