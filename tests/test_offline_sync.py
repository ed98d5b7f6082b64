"""The engine against a real server: edits travel, survive outages, arrive exactly once."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from conftest import make_config, start_server
from helpers import token_for, wait_for
from offline_kit import Restartable, drained, new_request, online, open_engine

from offline.events import (
    AlertReceived,
    EngineEvent,
    MutationRejected,
    StatusChanged,
    ViewChanged,
)
from protocol import Role, Status, utcnow


@pytest.fixture
async def restartable(tmp_path) -> AsyncIterator[Restartable]:
    box = Restartable(tmp_path)
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


async def test_request_created_in_one_terminal_appears_in_another(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    bob = await open_engine(tmp_path, server, "bob")
    try:
        await wait_for(lambda: online(ann) and online(bob), message="both online")
        request = await new_request(ann, description="Leak in 817", priority="urgent")
        await wait_for(lambda: drained(ann), message="ann's create is acked")
        await wait_for(lambda: bob.get(request.id) is not None, message="bob sees it")
        seen = bob.get(request.id)
        assert seen.description == "Leak in 817" and seen.created_by == "ann"
        assert seen.number is not None and ann.get(request.id).number == seen.number
        assert not bob.is_pending(request.id) and not ann.is_pending(request.id)

        await bob.set_status(request.id, "acknowledged")
        await wait_for(
            lambda: ann.get(request.id).status == Status.ACKNOWLEDGED, message="ann sees it"
        )
        assert ann.get(request.id).version == 2
    finally:
        await ann.close()
        await bob.close()


async def test_a_terminal_opened_later_catches_up_in_one_refresh(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    try:
        ids = [(await new_request(ann, room=str(100 + i))).id for i in range(40)]
        await wait_for(lambda: drained(ann), message="all acked")
    finally:
        await ann.close()
    bob = await open_engine(tmp_path, server, "bob", start=False)
    changes: list[ViewChanged] = []
    bob.subscribe(lambda e: changes.append(e) if isinstance(e, ViewChanged) else None)
    try:
        await bob.start()
        await wait_for(lambda: online(bob), message="bob online")
        assert {r.id for r in bob.requests()} == set(ids)
        assert len(changes) == 1 and changes[0].ids == frozenset(ids)
        assert bob.status.catchup_done == 40 and bob.status.last_synced_at is not None
    finally:
        await bob.close()


async def test_edit_made_while_the_server_is_down_arrives_once_after_it_returns(
    restartable, tmp_path
):
    server = restartable.server
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: online(ann), message="online")
        request = await new_request(ann)
        await wait_for(lambda: drained(ann), message="create acked")

        await restartable.stop()
        await wait_for(lambda: ann.status.connection != "online", message="goes offline")
        await ann.set_status(request.id, "in_progress")
        await ann.add_note(request.id, "plumber on the way")
        assert ann.status.pending == 2 and ann.is_pending(request.id)
        assert ann.get(request.id).status == Status.IN_PROGRESS

        server = await restartable.start()
        # No new local edit: the engine must come back and drain by itself.
        await wait_for(lambda: drained(ann) and online(ann), timeout=15, message="drained")
        confirmed = ann.get(request.id)
        assert confirmed.status == Status.IN_PROGRESS
        assert [n.text for n in confirmed.notes] == ["plumber on the way"], "exactly once"
        assert confirmed.version == 3
        assert ann.status.reconnects >= 1
    finally:
        await ann.close()

    meg = await open_engine(tmp_path, server, "meg")
    try:
        await wait_for(lambda: online(meg), message="meg online")
        assert [n.text for n in meg.get(request.id).notes] == ["plumber on the way"]
        assert meg.get(request.id).version == 3
    finally:
        await meg.close()


async def test_terminal_restarted_with_no_server_still_shows_pending_edits(restartable, tmp_path):
    ann = await open_engine(tmp_path, restartable.server, "ann")
    await wait_for(lambda: online(ann), message="online")
    url, token = restartable.server.url, ann.token
    await restartable.stop()
    request = await new_request(ann, description="Late checkout 14:00")
    await ann.close()

    again = await open_engine(tmp_path, None, "ann", url=url, token=token)
    try:
        await wait_for(lambda: again.status.reason is not None, message="says why offline")
        assert again.status.connection in ("offline", "connecting")
        assert again.get(request.id).description == "Late checkout 14:00"
        assert again.is_pending(request.id) and again.status.pending == 1
        await restartable.start()
        await again.sync_now()
        await wait_for(lambda: drained(again), timeout=10, message="drained after restart")
        assert again.get(request.id).number is not None
    finally:
        await again.close()


async def test_edit_refused_by_the_server_is_rolled_back_with_its_reason(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    # Bob's terminal still believes he is a manager: the server knows better.
    bob = await open_engine(tmp_path, server, "bob", role=Role.MANAGER)
    events: list[EngineEvent] = []
    bob.subscribe(events.append)
    try:
        request = await new_request(ann)
        await wait_for(lambda: bob.get(request.id) is not None, message="bob sees it")
        shown = await bob.set_status(request.id, "cancelled")
        assert shown.status == Status.CANCELLED, "shown at once (optimistic)"
        await wait_for(
            lambda: any(isinstance(e, MutationRejected) for e in events), message="rejected"
        )
        rejected = next(e for e in events if isinstance(e, MutationRejected))
        assert rejected.code == "forbidden" and rejected.request_id == request.id
        assert "manager" in rejected.message
        assert bob.get(request.id).status == Status.PENDING, "rolled back"
        assert not bob.is_pending(request.id) and bob.status.pending == 0
    finally:
        await ann.close()
        await bob.close()


async def test_mutations_the_server_already_has_are_not_sent_twice(server, tmp_path):
    """A terminal that crashed after the server applied its edits but before it heard back."""
    ann = await open_engine(tmp_path, server, "ann", start=False)
    request = await new_request(ann)
    await ann.add_note(request.id, "first note")
    await ann.close()
    data_dir = tmp_path / "client-ann"
    backup = tmp_path / "backup"
    shutil.copytree(data_dir, backup)

    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: drained(ann) and online(ann), message="delivered")
    finally:
        await ann.close()
    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir)  # the outbox still holds both edits, unanswered

    ann = await open_engine(tmp_path, server, "ann")
    try:
        assert ann.status.pending == 2
        await wait_for(lambda: drained(ann) and online(ann), message="settled")
        row = ann.get(request.id)
        assert [n.text for n in row.notes] == ["first note"] and row.version == 2
        later = await ann.add_note(request.id, "second note")
        assert later.notes[-1].text == "second note"
        await wait_for(lambda: drained(ann), message="next edit acked, not taken as duplicate")
        assert [n.text for n in ann.get(request.id).notes] == ["first note", "second note"]
    finally:
        await ann.close()


async def test_expired_token_shows_offline_with_a_reason_and_waits(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann", token="not-a-token", start=False)
    states: list[str] = []
    ann.subscribe(
        lambda e: states.append(e.status.connection) if isinstance(e, StatusChanged) else None
    )
    try:
        await ann.start()
        await wait_for(lambda: ann.status.reason is not None, message="offline with a reason")
        assert ann.status.connection == "offline"
        assert "token" in (ann.status.reason or "")
        assert states.count("connecting") == 1, "no retry loop on a refused token"
        ann.set_token(await token_for(server, "ann", "ann-pass"))
        await wait_for(lambda: online(ann), message="online with the new token")
    finally:
        await ann.close()


async def test_terminal_away_longer_than_the_log_is_kept_gets_a_snapshot(tmp_path):
    server = await start_server(make_config(tmp_path, log_keep_days=0))
    try:
        bob = await open_engine(tmp_path, server, "bob")
        ann = await open_engine(tmp_path, server, "ann")
        first = await new_request(ann, room="101")
        await wait_for(lambda: bob.get(first.id) is not None, message="bob has the first")
        await bob.close()
        later = [await new_request(ann, room=str(200 + i)) for i in range(5)]
        await ann.set_status(first.id, "acknowledged")
        await wait_for(lambda: drained(ann), message="acked")
        await server.run_job("compaction")
        assert server.store.state.compacted_through > 0

        bob = await open_engine(tmp_path, server, "bob")
        await wait_for(lambda: online(bob), message="bob back")
        assert bob.get(first.id).status == Status.ACKNOWLEDGED
        assert {r.id for r in bob.requests()} == {first.id, *(r.id for r in later)}
        assert bob.requests() and all(bob.get(r.id) == ann.get(r.id) for r in ann.requests())
        await ann.add_note(first.id, "after the snapshot")
        await wait_for(lambda: len(bob.get(first.id).notes) == 1, message="live again")
        await ann.close()
        await bob.close()
    finally:
        await server.close()


async def test_manager_bulk_change_and_urgent_alert_reach_other_terminals(server, tmp_path):
    meg = await open_engine(tmp_path, server, "meg")
    bob = await open_engine(tmp_path, server, "bob")
    alerts: list[EngineEvent] = []
    meg.subscribe(lambda e: alerts.append(e) if isinstance(e, AlertReceived) else None)
    try:
        await wait_for(lambda: online(meg) and online(bob), message="both online")
        assert abs(meg.clock_offset) < 2 and abs((meg.server_now() - utcnow()).total_seconds()) < 2
        leak = await new_request(bob, description="Water through the ceiling", priority="urgent")
        towels = await new_request(bob, room="1205")
        await wait_for(lambda: any(a.request.id == leak.id for a in alerts), message="alert")
        assert next(a for a in alerts if a.request.id == leak.id).kind == "urgent"

        await wait_for(lambda: meg.get(towels.id) is not None, message="meg has both")
        rows = await meg.bulk_set_status([leak.id, towels.id], "acknowledged")
        assert [r.status for r in rows] == [Status.ACKNOWLEDGED] * 2
        await wait_for(lambda: drained(meg), message="bulk acked")
        await wait_for(
            lambda: all(bob.get(i).status == Status.ACKNOWLEDGED for i in (leak.id, towels.id)),
            message="bob sees the bulk change",
        )
        assert meg.get(leak.id).version == 2 and not meg.is_pending(towels.id)
    finally:
        await meg.close()
        await bob.close()


async def test_a_refusal_whose_answer_was_lost_is_still_told_after_reconnect(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    request = await new_request(ann)
    await wait_for(lambda: drained(ann), message="created")
    bob = await open_engine(tmp_path, server, "bob", role=Role.MANAGER)
    await wait_for(lambda: bob.get(request.id) is not None, message="bob has it")
    await bob.close()
    offline_bob = await open_engine(tmp_path, None, "bob", role=Role.MANAGER, start=False)
    await offline_bob.bulk_set_status([request.id], "acknowledged")  # staff may not
    await offline_bob.close()
    data_dir, backup = tmp_path / "client-bob", tmp_path / "bob-backup"
    shutil.copytree(data_dir, backup)

    bob = await open_engine(tmp_path, server, "bob", role=Role.MANAGER)
    await wait_for(lambda: drained(bob) and online(bob), message="refused once")
    await bob.close()
    shutil.rmtree(data_dir)
    shutil.copytree(backup, data_dir)  # as if the reject had died with the connection

    bob = await open_engine(tmp_path, server, "bob", role=Role.MANAGER, start=False)
    events: list[EngineEvent] = []
    bob.subscribe(events.append)
    try:
        await bob.start()
        await wait_for(lambda: drained(bob) and online(bob), message="settled")
        told = [e for e in events if isinstance(e, MutationRejected)]
        assert [e.code for e in told] == ["forbidden"], "the server's recorded answer"
        assert bob.get(request.id).status == Status.PENDING
    finally:
        await bob.close()
        await ann.close()
