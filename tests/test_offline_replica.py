"""The engine with no server: edits are durable, shown at once, and survive a restart."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest

from offline.engine import Engine, EngineConfig
from offline.errors import Rejected, ReplicaUnavailable
from offline.events import EngineEvent, StatusChanged, ViewChanged
from protocol import Code, Role, Status


def config(tmp_path: Path, user: str = "ann", role: Role = Role.STAFF) -> EngineConfig:
    return EngineConfig(data_dir=tmp_path / user, user=user, role=role)


async def new_request(engine: Engine, **overrides):
    fields = {
        "room": "1204",
        "category": "housekeeping",
        "description": "Two extra towels",
        "priority": "normal",
        **overrides,
    }
    return await engine.create_request(**fields)


async def test_edit_made_offline_shows_at_once_as_pending(tmp_path):
    engine = await Engine.open(config(tmp_path))
    seen: list[EngineEvent] = []
    engine.subscribe(seen.append)
    try:
        request = await new_request(engine)
        assert engine.get(request.id) == request
        assert request.number is None, "the ticket number stays pending until the server"
        assert engine.is_pending(request.id)
        assert engine.status.pending == 1
        assert engine.status.connection == "offline"
        assert any(isinstance(e, ViewChanged) and request.id in e.ids for e in seen)
        assert any(isinstance(e, StatusChanged) and e.status.pending == 1 for e in seen)
    finally:
        await engine.close()


async def test_edits_queue_behind_an_offline_create_with_its_final_id(tmp_path):
    engine = await Engine.open(config(tmp_path))
    try:
        request = await new_request(engine)
        await engine.set_status(request.id, "acknowledged")
        await engine.set_status(request.id, Status.IN_PROGRESS)
        await engine.add_note(request.id, "on my way")
        shown = engine.get(request.id)
        assert shown is not None
        assert shown.status == Status.IN_PROGRESS
        assert [n.text for n in shown.notes] == ["on my way"]
        assert [m.request_ids for m in engine.pending_mutations()] == [(request.id,)] * 4
        assert [m.n for m in engine.pending_mutations()] == [1, 2, 3, 4]
    finally:
        await engine.close()


async def test_pending_edits_are_still_shown_after_a_restart_with_no_server(tmp_path):
    engine = await Engine.open(config(tmp_path))
    request = await new_request(engine, description="Leak under the sink")
    await engine.set_status(request.id, "acknowledged")
    client_id = engine.client_id
    await engine.close()

    again = await Engine.open(config(tmp_path))
    try:
        shown = again.get(request.id)
        assert shown is not None and shown.status == Status.ACKNOWLEDGED
        assert shown.description == "Leak under the sink"
        assert again.is_pending(request.id) and again.status.pending == 2
        assert again.client_id == client_id, "one client id per installation"
        later = await again.add_note(request.id, "plumber called")
        assert later.notes[-1].text == "plumber called"
        assert [m.n for m in again.pending_mutations()] == [1, 2, 3], "n never repeats"
    finally:
        await again.close()


async def test_an_edit_the_rule_book_refuses_is_not_queued(tmp_path):
    engine = await Engine.open(config(tmp_path))
    try:
        request = await new_request(engine)
        with pytest.raises(Rejected) as refused:
            await engine.set_status(request.id, "completed")
        assert refused.value.code == Code.INVALID_TRANSITION
        with pytest.raises(Rejected) as empty_room:
            await new_request(engine, room="  ")
        assert "room" in empty_room.value.fields
        assert engine.status.pending == 1
        assert engine.get(request.id).status == Status.PENDING
    finally:
        await engine.close()


async def test_text_is_stored_exactly_as_typed(tmp_path):
    engine = await Engine.open(config(tmp_path))
    typed = "[bold]x[/] \x1b[2J and ünïcode"
    request = await new_request(engine, description=typed)
    await engine.close()
    again = await Engine.open(config(tmp_path))
    try:
        assert again.get(request.id).description == typed
    finally:
        await again.close()


async def test_manager_bulk_change_shows_on_every_row(tmp_path):
    engine = await Engine.open(config(tmp_path, "meg", Role.MANAGER))
    try:
        ids = [(await new_request(engine, room=str(100 + i))).id for i in range(3)]
        rows = await engine.bulk_set_status(ids, "acknowledged")
        assert [r.status for r in rows] == [Status.ACKNOWLEDGED] * 3
        assert all(engine.get(i).status == Status.ACKNOWLEDGED for i in ids)
    finally:
        await engine.close()


async def test_replica_file_lives_in_the_data_dir(tmp_path):
    engine = await Engine.open(config(tmp_path))
    await engine.close()
    db = tmp_path / "ann" / "replica.sqlite3"
    assert db.exists()
    assert stat.S_ISREG(os.stat(db).st_mode)
    assert uuid.UUID(engine.client_id)


async def test_a_damaged_replica_is_rebuilt_keeping_pending_edits_and_identity(tmp_path):
    engine = await Engine.open(config(tmp_path))
    request = await new_request(engine, description="typed before the disk went bad")
    client_id = engine.client_id
    await engine.close()
    path = tmp_path / "ann" / "replica.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'requests'").fetchone()
    (size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xde\xad" * (size // 2))

    again = await Engine.open(config(tmp_path))
    try:
        assert again.client_id == client_id, "exactly-once needs the same installation id"
        assert again.get(request.id).description == "typed before the disk went bad"
        assert [m.n for m in again.pending_mutations()] == [1]
        later = await again.add_note(request.id, "still works")
        assert later.notes[-1].text == "still works"
        assert [m.n for m in again.pending_mutations()] == [1, 2]
        assert list((tmp_path / "ann").glob("replica.sqlite3.corrupt-*")), "kept for a look"
    finally:
        await again.close()


async def test_a_data_dir_that_cannot_be_used_is_reported_in_one_line(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(ReplicaUnavailable) as failed:
        await Engine.open(EngineConfig(data_dir=blocker / "ann", user="ann", role=Role.STAFF))
    assert str(failed.value).startswith("cannot open the local replica in ")
    assert "\n" not in str(failed.value)
