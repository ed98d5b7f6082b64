"""The outbox in memory: mutations the server has not answered, in ``n`` order.

The durable copy is the ``outbox`` table of the replica; this mirror answers "what is pending
for request X" and "what to send next" without touching the database.
"""

from __future__ import annotations

import json
from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol.codec import mutate_text


@dataclass(eq=False)
class PendingMutation:
    """One local edit waiting for the server's answer."""

    n: int
    name: str
    args: dict[str, Any]
    base_version: int | None
    request_ids: tuple[str, ...]
    created_at: datetime
    attempts: int = 0
    inflight: bool = field(default=False)

    def to_text(self, client_id: str) -> str:
        """The ``mutate`` frame that carries this mutation."""
        return mutate_text(client_id, self.n, self.name, self.args, self.base_version)

    def to_row(self) -> tuple[Any, ...]:
        return (
            self.n,
            self.name,
            json.dumps(self.args, ensure_ascii=False),
            self.base_version,
            json.dumps(list(self.request_ids)),
            self.created_at.isoformat(),
            "inflight" if self.inflight else "pending",
            self.attempts,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> PendingMutation:
        n, name, args, base_version, ids, created_at, _state, attempts = row
        return cls(
            n=n,
            name=name,
            args=json.loads(args),
            base_version=base_version,
            request_ids=tuple(json.loads(ids)),
            created_at=datetime.fromisoformat(created_at),
            attempts=attempts,
        )


class Outbox:
    """Pending mutations by ``n`` (always ascending) and by request id."""

    def __init__(self, entries: list[PendingMutation] | None = None) -> None:
        self._by_n: dict[int, PendingMutation] = {}
        self._by_id: dict[str, list[int]] = {}
        for entry in sorted(entries or [], key=lambda e: e.n):
            self.add(entry)

    def __len__(self) -> int:
        return len(self._by_n)

    def __contains__(self, n: object) -> bool:
        return n in self._by_n

    def get(self, n: int) -> PendingMutation | None:
        return self._by_n.get(n)

    def add(self, entry: PendingMutation) -> None:
        """Add a mutation, keeping ``n`` order (another process may have queued a lower one)."""
        last = next(reversed(self._by_n), None)
        self._by_n[entry.n] = entry
        if last is not None and entry.n < last:
            self._by_n = dict(sorted(self._by_n.items()))
        for rid in entry.request_ids:
            insort(self._by_id.setdefault(rid, []), entry.n)

    def remove(self, n: int) -> PendingMutation | None:
        entry = self._by_n.pop(n, None)
        if entry is not None:
            for rid in entry.request_ids:
                ns = self._by_id.get(rid)
                if ns is not None:
                    ns.remove(n)
                    if not ns:
                        del self._by_id[rid]
        return entry

    def entries(self) -> list[PendingMutation]:
        """All pending mutations in ``n`` order."""
        return list(self._by_n.values())

    def for_id(self, request_id: str) -> list[PendingMutation]:
        """Pending mutations touching ``request_id``, in ``n`` order."""
        return [self._by_n[n] for n in self._by_id.get(request_id, ())]

    def has_id(self, request_id: str) -> bool:
        return request_id in self._by_id

    def ids(self) -> set[str]:
        return set(self._by_id)

    def oldest_created_at(self) -> datetime | None:
        first = next(iter(self._by_n.values()), None)
        return first.created_at if first else None

    def next_unsent(self, limit: int) -> list[PendingMutation]:
        """Up to ``limit`` mutations not on the wire yet, in ``n`` order.

        Sent ones sit at the front (they are answered in order), so this skips at most a
        window's worth before it finds work.
        """
        found: list[PendingMutation] = []
        if limit <= 0:
            return found
        for entry in self._by_n.values():
            if not entry.inflight:
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def numbers(self) -> set[int]:
        return set(self._by_n)

    def reset_inflight(self) -> None:
        """After a disconnect nothing is on the wire any more."""
        for entry in self._by_n.values():
            entry.inflight = False
