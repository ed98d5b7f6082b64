"""A terminal whose local replica got corrupted starts anyway, keeps its pending edits, and
rebuilds the rest from the server (issue 7: "detected at start, the outbox is kept, and the
replica is rebuilt from the server").

The corruption is real: the page holding the root of the replica's ``requests`` table is
overwritten on disk (as a bad sector or a torn write would), while the outbox pages are intact.
Found by this test; fixed in offline (commit 74a8735: a damaged replica is set aside and rebuilt,
keeping the outbox and the client id).
"""

from __future__ import annotations

import sqlite3
import uuid

from helpers import connect_as, wait_for
from offline_kit import drained, new_request, online, open_engine


def corrupt_table(path, table: str) -> None:
    """Overwrite the root page of ``table`` in the SQLite file at ``path`` with garbage."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    finally:
        db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xde\xad\xbe\xef" * (size // 4))


async def test_a_corrupt_replica_is_rebuilt_from_the_server_keeping_pending_edits(server, tmp_path):
    ann = await connect_as(server, "ann")
    for i in range(120):  # pipelined: the rows fill several pages of the replica
        n = await ann.mutate(
            "create_request",
            {
                "id": str(uuid.uuid4()),
                "room": str(100 + i),
                "category": "housekeeping",
                "description": "towels " * 40,
                "priority": "normal",
            },
        )
    assert (await ann.outcome(n, timeout=20))["type"] == "ack"
    await ann.close()
    meg = await open_engine(tmp_path, server, "meg")
    await wait_for(lambda: online(meg) and len(meg.requests()) == 120, timeout=20)
    await meg.close()
    offline = await open_engine(tmp_path, None, "meg", start=False)
    mine = await new_request(offline, description="typed while the network was down")
    await offline.close()

    corrupt_table(tmp_path / "client-meg" / "replica.sqlite3", "requests")

    meg = await open_engine(tmp_path, server, "meg")
    try:
        assert meg.get(mine.id) is not None and meg.is_pending(mine.id), "outbox kept"
        await wait_for(lambda: online(meg) and drained(meg), timeout=20)
        assert len(meg.requests()) == 121, "rebuilt from the server"
        assert meg.get(mine.id).number is not None
    finally:
        await meg.close()
