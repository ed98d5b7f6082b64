"""Writing a history straight into a store: mutations at chosen past times, through the real
mutators, collected into one batch.

The demo data (``backend.demo``) and the report tests' fixed night (``tests/report_kit.py``) are
made this way: the rows, the change log and the ticket numbers are exactly what the server
would have written had the mutations come over the wire at those times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.store import Batch, Store
from protocol.models import Request
from protocol.mutators import apply_mutation
from protocol.rules import Actor, Rejection


class Seeder:
    """Applies mutations with past times and collects them into one batch (``batch``), to be
    written with ``store.commit_batch(seeder.batch)``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batch = Batch(
            head_seq=store.state.head_seq,
            next_number=store.state.next_number,
            base_commit=store.state.commits,
        )
        self.rows: dict[str, Request] = {}
        """Every request this seeder wrote, as it last left it."""

    def apply(
        self, name: str, args: dict[str, Any], actor: Actor, now: datetime
    ) -> Request | Rejection:
        """Apply one single-request mutation at ``now``; the new row, or why it was refused."""
        result = apply_mutation(name, args, self.rows.get(args["id"]), actor, now)
        if isinstance(result, Rejection):
            return result
        if result.number is None:
            result = result.model_copy(update={"number": self.batch.next_number})
            self.batch.next_number += 1
        self.batch.head_seq += 1
        seq = self.batch.head_seq
        data = result.model_dump_json()
        self.rows[result.id] = result
        self.batch.rows[result.id] = (result, data, seq)
        self.batch.changes.append(
            (seq, result.id, name, actor.user, None, None, now.timestamp(), data)
        )
        return result
