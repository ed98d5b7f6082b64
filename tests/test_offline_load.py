"""A big replica opens at once: the newest rows first, the rest loaded before anything syncs."""

from __future__ import annotations

from conftest import USERS
from helpers import token_for, wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.engine import Engine, EngineConfig
from offline.events import EngineEvent, ViewChanged
from protocol import Role, Status


async def reopen(tmp_path, server, first: int) -> Engine:
    """Ann's engine again, opened with only the ``first`` newest rows loaded."""
    config = EngineConfig(
        data_dir=tmp_path / "client-ann",
        user="ann",
        role=Role.STAFF,
        server_url=server.url,
        token=await token_for(server, "ann", USERS["ann"][1]),
    )
    return await Engine.open(config, first=first)


async def test_replica_opened_with_the_first_rows_shows_them_then_every_row(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    made = [await new_request(ann, description=f"Request {i}") for i in range(12)]
    await wait_for(lambda: drained(ann), message="every create acked")
    await ann.close()

    again = await reopen(tmp_path, server, 5)
    seen: list[EngineEvent] = []
    again.subscribe(seen.append)
    try:
        assert again.loading
        assert len(again.requests()) == 5
        # The rows written last (the newest) come first.
        assert {r.id for r in again.requests()} <= {r.id for r in made}
        await again.start()
        await wait_for(lambda: not again.loading, message="the rest of the replica loaded")
        assert {r.id for r in again.requests()} == {r.id for r in made}
        assert any(isinstance(e, ViewChanged) and len(e.ids) == 7 for e in seen)
        await wait_for(lambda: online(again), message="syncing after the load")
    finally:
        await again.close()


async def test_an_edit_made_while_the_replica_loads_waits_for_its_row(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    made = [await new_request(ann, description=f"Request {i}") for i in range(6)]
    await wait_for(lambda: drained(ann), message="every create acked")
    await ann.close()

    again = await reopen(tmp_path, server, 1)
    try:
        not_loaded = next(r for r in made if again.get(r.id) is None)
        edited = await again.set_status(not_loaded.id, "acknowledged")
        assert edited.status == Status.ACKNOWLEDGED
        assert not again.loading and len(again.requests()) == 6
    finally:
        await again.close()
