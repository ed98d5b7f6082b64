"""The optimistic view: confirmed rows with every pending mutation re-applied on top.

It lives in memory (``dict`` id -> Request) and is rebuilt only for the ids an event touched:
when a confirmed row moves (``ack``, ``change``, catch-up) or the outbox changes, the pending
mutations of those ids are replayed in ``n`` order by the shared mutators (a rebase). A pending
mutation whose replay is refused stays in the outbox (the server decides) but has no effect
on the view: the row shows as confirmed for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from offline.outbox import Outbox, PendingMutation
from offline.server_rules import ServerRules
from protocol import Actor, Rejection, Request, apply_bulk, apply_mutation


class OptimisticView:
    """Confirmed rows (``confirmed``), the outbox, and the view computed from both."""

    def __init__(
        self,
        actor: Actor,
        confirmed: dict[str, Request],
        outbox: Outbox,
        rules: ServerRules | None = None,
    ) -> None:
        self.actor = actor
        self.confirmed = confirmed
        self.outbox = outbox
        self.rules = rules or ServerRules()
        """The server's SLA table and staff directory, as last seen: predictions use them."""
        self.rows: dict[str, Request] = dict(confirmed)
        self.refused: set[int] = set()
        """Pending ``n`` whose local replay is refused (shown as confirmed, still queued)."""
        self.rebuild(outbox.ids())

    def get(self, request_id: str) -> Request | None:
        return self.rows.get(request_id)

    def predict(self, mutation: PendingMutation) -> list[Request] | Rejection:
        """What ``mutation`` would make of the current view (nothing is changed)."""
        return self.apply_to(mutation, self.rows)

    def apply_to(
        self, mutation: PendingMutation, state: dict[str, Request]
    ) -> list[Request] | Rejection:
        if mutation.name == "bulk_set_status":
            currents = {i: state[i] for i in mutation.request_ids if i in state}
            return apply_bulk(mutation.args, currents, self.actor, mutation.created_at)
        rid = mutation.request_ids[0] if mutation.request_ids else None
        result = apply_mutation(
            mutation.name,
            mutation.args,
            state.get(rid) if rid else None,
            self.actor,
            mutation.created_at,
            base_version=mutation.base_version,
            sla=self.rules.sla,
            staff=self.rules.staff,
        )
        return result if isinstance(result, Rejection) else [result]

    def _closure(self, ids: Iterable[str]) -> set[str]:
        """``ids`` plus every id sharing a pending bulk mutation with them (replayed together)."""
        todo = list(ids)
        seen: set[str] = set(todo)
        while todo:
            rid = todo.pop()
            for mutation in self.outbox.for_id(rid):
                for other in mutation.request_ids:
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
        return seen

    def rebuild(self, ids: Iterable[str]) -> set[str]:
        """Recompute the view rows of ``ids``; returns the ids whose row changed."""
        changed: set[str] = set()
        replay: list[str] = []
        rows, confirmed, has_pending = self.rows, self.confirmed, self.outbox.has_id
        for rid in ids:
            if has_pending(rid):
                replay.append(rid)
                continue
            # Nothing pending: the view row is the confirmed row (the common catch-up case).
            new = confirmed.get(rid)
            old = rows.get(rid)
            if new is None:
                if old is not None:
                    del rows[rid]
                    changed.add(rid)
            elif new is not old:
                rows[rid] = new
                changed.add(rid)
        if replay:
            changed |= self._replay(replay)
        return changed

    def _replay(self, ids: Iterable[str]) -> set[str]:
        ids = self._closure(ids)
        state: dict[str, Request] = {}
        for rid in ids:
            row = self.confirmed.get(rid)
            if row is not None:
                state[rid] = row
        mutations: dict[int, PendingMutation] = {}
        for rid in ids:
            for mutation in self.outbox.for_id(rid):
                mutations[mutation.n] = mutation
        for n in sorted(mutations):
            mutation = mutations[n]
            result = self.apply_to(mutation, state)
            if isinstance(result, Rejection):
                self.refused.add(n)
                continue
            self.refused.discard(n)
            for row in result:
                state[row.id] = row
        changed: set[str] = set()
        for rid in ids:
            new = state.get(rid)
            old = self.rows.get(rid)
            if new is None:
                if old is not None:
                    del self.rows[rid]
                    changed.add(rid)
            elif new is not old:
                self.rows[rid] = new
                changed.add(rid)
        return changed

    def forget(self, n: int) -> None:
        self.refused.discard(n)
