"""The server writes its hot frames exactly as ``protocol.codec`` does, so terminals read them
on the fast path (each row's JSON kept) and never fall back to decoding them twice.

If the server's frames drift from the codec's shape (another key order, spaces), terminals
still read them (the models do), only slower; this test notices the drift.
"""

from __future__ import annotations

import asyncio
import uuid

from conftest import make_config, start_server
from helpers import connect_as

from protocol import Request
from protocol.codec import (
    LiveRow,
    Page,
    ack_text,
    change_text,
    changes_page,
    decode_server_frame,
    hello_text,
    mutate_text,
    read_live,
    read_page,
    snapshot_page,
)
from protocol.frames import Ack, Change, Changes, Snapshot


async def _raw_until(ws, kind: str, timeout: float = 5.0) -> list[str]:
    """Raw frame texts up to and including the first of ``kind``."""
    texts: list[str] = []
    while True:
        text = await asyncio.wait_for(ws.recv(), timeout)
        texts.append(text)
        if decode_server_frame(text).type == kind:
            return texts


def _create(client_id: str, n: int, room: str) -> str:
    args = {
        "id": str(uuid.uuid4()),
        "room": room,
        "category": "housekeeping",
        "description": 'towels },{"seq":1 "quoted" ✓',
        "priority": "normal",
    }
    return mutate_text(client_id, n, "create_request", args, None)


async def test_acks_changes_and_catch_up_pages_are_in_the_codecs_shape(tmp_path):
    server = await start_server(make_config(tmp_path, log_keep_days=0, catchup_page_size=2))
    try:
        ann = await connect_as(server, "ann")
        for n in (1, 2, 3):
            await ann.send(_create(ann.client_id, n, room=f"10{n}"))
        recent: dict[str, Request] = {}
        acks: list[LiveRow | None] = []
        changes: list[Change] = []
        while len(acks) < 3 or len(changes) < 3:
            text = await asyncio.wait_for(ann.ws.recv(), 5)
            frame = decode_server_frame(text)
            if isinstance(frame, Ack):
                assert frame.request is not None
                assert text == ack_text(frame.n, frame.seq, frame.request.model_dump_json())
                acks.append(read_live(text, recent))
            elif isinstance(frame, Change):
                assert isinstance(read_live(text, recent), LiveRow)
                changes.append(frame)
                by = frame.by.model_dump_json()
                assert text == change_text(frame.seq, frame.request.model_dump_json(), by)
        assert all(isinstance(live, LiveRow) for live in acks)
        await ann.close()

        bob = await connect_as(server, "bob", hello=False)
        await bob.send(hello_text(bob.client_id, 0))
        pages = [t for t in await _raw_until(bob.ws, "synced") if t.startswith('{"type":"ch')]
        assert len(pages) == 2
        for text in pages:
            page = read_page(text)
            frame = decode_server_frame(text)
            assert isinstance(page, Page) and isinstance(frame, Changes)
            entries = [(e.seq, e.request.model_dump_json()) for e in frame.changes]
            assert text == changes_page(entries, frame.more)
        await bob.close()

        await server.run_job("compaction")
        meg = await connect_as(server, "meg", hello=False)
        await meg.send(hello_text(meg.client_id, 0))
        snapshots = [t for t in await _raw_until(meg.ws, "synced") if t.startswith('{"type":"sn')]
        assert snapshots
        for text in snapshots:
            frame = decode_server_frame(text)
            assert isinstance(read_page(text), Page) and isinstance(frame, Snapshot)
            rows = [r.model_dump_json() for r in frame.requests]
            assert text == snapshot_page(rows, frame.seq, frame.more)
        await meg.close()
    finally:
        await server.close()
