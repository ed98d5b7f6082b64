"""Two people change the same request: nothing is overwritten silently, each strategy as told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.engine import Engine
from offline.events import ConflictParked, EngineEvent, MutationRejected
from protocol import Priority, Status

Edit = Callable[[Engine, str], Awaitable[object]]


async def clash(server, tmp_path, theirs: Edit, mine: Edit, **bob_config):
    """Ann and Bob share a request; Bob edits it offline while Ann's edit lands first.

    Returns (ann, bob, request id, bob's events) with Bob back online and settled.
    """
    ann = await open_engine(tmp_path, server, "ann")
    request = await new_request(ann, description="Two extra towels")
    await wait_for(lambda: drained(ann), message="create acked")

    bob = await open_engine(tmp_path, server, "bob")
    await wait_for(lambda: bob.get(request.id) is not None, message="bob has it")
    await bob.close()
    offline_bob = await open_engine(tmp_path, None, "bob", start=False)
    await mine(offline_bob, request.id)
    await offline_bob.close()

    await theirs(ann, request.id)
    await wait_for(lambda: drained(ann), message="ann's edit acked first")

    bob = await open_engine(tmp_path, server, "bob", start=False, **bob_config)
    events: list[EngineEvent] = []
    bob.subscribe(events.append)
    await bob.start()
    await wait_for(lambda: drained(bob) and online(bob), message="bob settled")
    return ann, bob, request.id, events


async def test_status_changed_by_both_is_parked_and_resolves_to_theirs(server, tmp_path):
    ann, bob, rid, events = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.set_status(rid, "in_progress"),
        mine=lambda e, rid: e.set_status(rid, "acknowledged"),
    )
    try:
        parked = [e for e in events if isinstance(e, ConflictParked)]
        assert len(parked) == 1 and parked[0].request_id == rid
        (conflict,) = bob.conflicts()
        assert conflict.fields == ("status",)
        assert conflict.mine == {"status": "acknowledged"}
        assert conflict.theirs == {"status": "in_progress"}
        assert bob.status.conflicts == 1
        assert bob.get(rid).status == Status.IN_PROGRESS, "the view shows the server's row"
        assert not any(isinstance(e, MutationRejected) for e in events), "parked, not dropped"

        await bob.resolve_conflict(conflict.id, "theirs")
        assert bob.conflicts() == [] and bob.status.conflicts == 0
        assert bob.status.pending == 0
    finally:
        await ann.close()
        await bob.close()


async def test_assignee_conflict_resolved_as_mine_reaches_everyone(server, tmp_path):
    ann, bob, rid, _ = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.assign(rid, "ann"),
        mine=lambda e, rid: e.assign(rid, "bob"),
    )
    try:
        (conflict,) = bob.conflicts()
        assert conflict.mine == {"assignee": "bob"} and conflict.theirs == {"assignee": "ann"}
        shown = await bob.resolve_conflict(conflict.id, "mine")
        assert shown.assignee == "bob" and bob.is_pending(rid)
        await wait_for(lambda: drained(bob), message="re-issued edit acked")
        await wait_for(lambda: ann.get(rid).assignee == "bob", message="ann sees bob's choice")
        assert bob.conflicts() == []
    finally:
        await ann.close()
        await bob.close()


async def test_a_parked_conflict_survives_a_restart_and_can_be_edited(server, tmp_path):
    ann, bob, rid, _ = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.set_status(rid, "in_progress"),
        mine=lambda e, rid: e.set_status(rid, "acknowledged"),
    )
    await bob.close()
    bob = await open_engine(tmp_path, server, "bob")
    try:
        (conflict,) = bob.conflicts()
        shown = await bob.resolve_conflict(conflict.id, "mine", edited={"status": "completed"})
        assert shown.status == Status.COMPLETED
        await wait_for(lambda: drained(bob), message="acked")
        await wait_for(lambda: ann.get(rid).status == Status.COMPLETED, message="ann sees it")
    finally:
        await ann.close()
        await bob.close()


async def test_descriptive_edits_merge_what_did_not_clash_and_say_what_was_kept(server, tmp_path):
    ann, bob, rid, events = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.update_request(rid, {"description": "Four towels"}),
        mine=lambda e, rid: e.update_request(
            rid, {"description": "Three towels", "priority": "high"}
        ),
    )
    try:
        await wait_for(lambda: ann.get(rid).priority == Priority.HIGH, message="merged part")
        row = bob.get(rid)
        assert row.description == "Four towels" and row.priority == Priority.HIGH
        (told,) = [e for e in events if isinstance(e, MutationRejected)]
        assert told.code == "conflict" and "description" in told.message
        assert set(told.fields) == {"description"}
        assert bob.conflicts() == []
    finally:
        await ann.close()
        await bob.close()


async def test_client_wins_reissues_my_edit_on_the_new_version(server, tmp_path):
    ann, bob, rid, events = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.update_request(rid, {"description": "Four towels"}),
        mine=lambda e, rid: e.update_request(rid, {"description": "Three towels"}),
        conflict_strategies={"descriptive": "client-wins"},
    )
    try:
        await wait_for(
            lambda: ann.get(rid).description == "Three towels", message="mine reached ann"
        )
        assert bob.get(rid).description == "Three towels" and bob.get(rid).version == 3
        assert not any(isinstance(e, MutationRejected) for e in events)
    finally:
        await ann.close()
        await bob.close()


async def test_server_wins_drops_my_edit_and_tells(server, tmp_path):
    ann, bob, rid, events = await clash(
        server,
        tmp_path,
        theirs=lambda e, rid: e.set_status(rid, "in_progress"),
        mine=lambda e, rid: e.set_status(rid, "acknowledged"),
        conflict_strategies={"status": "server-wins"},
    )
    try:
        (told,) = [e for e in events if isinstance(e, MutationRejected)]
        assert told.code == "conflict" and told.request_id == rid
        assert bob.get(rid).status == Status.IN_PROGRESS and bob.conflicts() == []
    finally:
        await ann.close()
        await bob.close()
