"""A terminal killed with SIGKILL in the middle of pushing loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from helpers import token_for, wait_for
from offline_kit import drained, online, open_engine

from offline.events import EngineEvent, MutationRejected

PUSHER = """
import asyncio, sys
from pathlib import Path
from offline.engine import Engine, EngineConfig
from offline.events import StatusChanged

async def main(data_dir, url, token):
    engine = await Engine.open(
        EngineConfig(data_dir=Path(data_dir), user="ann", role="staff", server_url=url,
                     token=token, push_window=16)
    )
    engine.subscribe(
        lambda e: print(f"pending {e.status.pending}", flush=True)
        if isinstance(e, StatusChanged) else None
    )
    await engine.start()
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""

COUNT = 120


async def test_client_killed_mid_push_delivers_every_edit_exactly_once(server, tmp_path):
    ann = await open_engine(tmp_path, None, "ann", start=False)
    ids = []
    for i in range(COUNT):
        row = await ann.create_request(
            room=str(100 + i),
            category="housekeeping",
            description=f"request {i}",
            priority="normal",
        )
        await ann.add_note(row.id, f"note for {i}")
        ids.append(row.id)
    await ann.close()
    total = 2 * COUNT

    token = await token_for(server, "ann", "ann-pass")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUSHER,
        str(tmp_path / "client-ann"),
        server.url,
        token,
        stdout=asyncio.subprocess.PIPE,
    )
    try:

        async def killed_mid_push() -> int:
            assert child.stdout is not None
            while True:
                line = await child.stdout.readline()
                assert line, "the pusher ended early"
                pending = int(line.split()[1])
                if pending < total - 10:
                    os.kill(child.pid, signal.SIGKILL)
                    return pending

        left = await asyncio.wait_for(killed_mid_push(), 30)
        assert 0 < left < total
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()

    ann = await open_engine(tmp_path, server, "ann", start=False)
    events: list[EngineEvent] = []
    ann.subscribe(events.append)
    try:
        assert 0 < ann.status.pending <= total, "answered edits may be resent, never lost"
        await ann.start()
        await wait_for(lambda: drained(ann) and online(ann), timeout=30, message="drained")
        assert not [e for e in events if isinstance(e, MutationRejected)]
    finally:
        await ann.close()

    meg = await open_engine(tmp_path, server, "meg")
    try:
        await wait_for(lambda: online(meg), message="meg online")
        for i, rid in enumerate(ids):
            row = meg.get(rid)
            assert row is not None, f"request {i} lost"
            assert [n.text for n in row.notes] == [f"note for {i}"], f"request {i}"
        assert len(meg.requests()) == COUNT
    finally:
        await meg.close()
