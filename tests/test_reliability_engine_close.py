"""Closing a terminal while it is still writing what the server sent never blows up.

The replica's disk is made slow (another connection holds SQLite's write lock, as a busy disk
or a backup would), so the engine's queued replica write is still running when the next
server frame arrives and the sync task waits for it. Closing the terminal at that moment must
finish (or abandon) the write cleanly: ``close()`` returns, the replica is closed, and a fresh
engine on the same data opens. (Found by this test; fixed by shielding the queued write, commit
ebba4e7, now in ``offline.state.WriteQueue``; the test waits for ``Engine.writes_behind``.)
"""

from __future__ import annotations

import asyncio
import sqlite3

from helpers import connect_as, wait_for
from offline_kit import online, open_engine


async def test_closing_while_a_replica_write_is_queued_returns_cleanly(server, tmp_path):
    ann = await connect_as(server, "ann")
    meg = await open_engine(tmp_path, server, "meg")
    replica = tmp_path / "client-meg" / "replica.sqlite3"
    busy = sqlite3.connect(replica, isolation_level=None, timeout=0)
    try:
        await wait_for(lambda: online(meg), message="meg online")
        busy.execute("BEGIN IMMEDIATE")  # the disk is busy: meg's next write has to wait
        first = await ann.create(room="1")
        await wait_for(lambda: meg.get(first["id"]) is not None, message="first change seen")
        await ann.create(room="2")  # its frame makes the sync task wait for the first write
        await wait_for(
            lambda: meg.writes_behind,
            timeout=3,
            message="the sync task never waited for the queued write",
        )
        closing = asyncio.create_task(meg.close())
        busy.execute("ROLLBACK")  # the disk frees up while the terminal closes
        await asyncio.wait_for(closing, 10)
    finally:
        busy.close()
        await ann.close()
    again = await open_engine(tmp_path, server, "meg", start=False)
    await again.close()
