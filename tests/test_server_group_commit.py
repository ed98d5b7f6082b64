"""A group commit larger than one multi-row INSERT statement keeps every row, change and answer."""

from __future__ import annotations

import uuid

import pytest

from backend.sqlite_store import ROWS_PER_STATEMENT, SqliteStore
from backend.store import Batch
from protocol.models import Request, Role, utcnow
from protocol.mutators import apply_mutation
from protocol.rules import Actor


@pytest.mark.sqlite_only
async def test_a_batch_bigger_than_one_statement_is_stored_whole_after_a_restart(tmp_path):
    store = await SqliteStore.open(tmp_path)
    count = ROWS_PER_STATEMENT * 2 + 7  # three statements per table, the last one short
    now = utcnow()
    batch = Batch(head_seq=store.state.head_seq, next_number=store.state.next_number)
    key = f"ann/{uuid.uuid4()}"
    for n in range(1, count + 1):
        args = {
            "id": str(uuid.uuid4()),
            "room": str(100 + n),
            "category": "housekeeping",
            "description": f'towels {n}, "quoted" and\nsecond line',
            "priority": "normal",
        }
        row = apply_mutation("create_request", args, None, Actor("ann", Role.STAFF), now)
        assert isinstance(row, Request)
        row = row.model_copy(update={"number": batch.next_number})
        batch.next_number += 1
        batch.head_seq += 1
        data = row.model_dump_json()
        batch.rows[row.id] = (row, data, batch.head_seq)
        batch.changes.append((batch.head_seq, row.id, "create_request", "ann", key, n, 1.0, data))
        batch.clients[key] = ("ann", n)
        batch.outcomes.append((key, n, f'{{"type":"ack","n":{n}}}', 1.0, None, None))
    await store.commit_batch(batch)
    await store.close()

    store = await SqliteStore.open(tmp_path)
    try:
        assert len(store.state.requests) == count
        assert store.state.head_seq == count
        assert store.state.client_last_n[key] == count
        assert {r.id: r for r in store.state.requests.values()} == {
            rid: row for rid, (row, _data, _seq) in batch.rows.items()
        }
        changes = await store.read_changes(0, count + 10)
        assert [seq for seq, _ in changes] == list(range(1, count + 1))
        assert [data for _, data in changes] == [c[-1] for c in batch.changes]
        assert await store.get_outcome(key, count) == f'{{"type":"ack","n":{count}}}'
        assert await store.get_outcome(key, 1) == '{"type":"ack","n":1}'
    finally:
        await store.close()
