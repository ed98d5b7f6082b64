"""Shared pieces of the reliability tests: a random desk workload and the server-side audit.

The audit reads what the server committed (its SQLite file, read-only, and ``/api/v1/requests``)
and counts, per client, mutations lost (an ``n`` the client made with no stored outcome),
applied twice (one ``(client_id, n)`` in the change log more than once per request, or a note
text present twice), out of order (a client's change-log ``n`` going down), and rejections.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from offline.engine import Engine
from offline.errors import Rejected
from offline.events import ConflictParked, EngineEvent, MutationRejected
from protocol.models import Request, Role, Status
from protocol.rules import TRANSITIONS


@dataclass
class Desk:
    """One engine plus what its person did to it (to check against the server)."""

    name: str
    engine: Engine
    rng: random.Random
    made: int = 0
    """Mutations the engine accepted (each took one ``n``)."""
    refused_locally: int = 0
    """Mutations the local prediction refused at once (never queued, never sent)."""
    notes: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    events: list[EngineEvent] = field(default_factory=list)
    steps: int = 0

    def __post_init__(self) -> None:
        self.engine.subscribe(self.events.append)

    @property
    def surfaced(self) -> int:
        """Refusals the person was told about (rejected or parked)."""
        return sum(isinstance(e, MutationRejected | ConflictParked) for e in self.events)

    async def act(self, known: list[str]) -> None:
        """One random edit of the kind a front desk makes."""
        rng = self.rng
        engine = self.engine
        self.steps += 1
        step = self.steps  # unique per desk: every text it types can be found exactly once
        roll = rng.random()
        try:
            if roll < 0.25 or not known:
                row = await engine.create_request(
                    room=str(rng.randint(100, 1299)),
                    category=rng.choice(["housekeeping", "maintenance", "concierge"]),
                    description=f"{self.name} request {step}",
                    priority=rng.choice(["low", "normal", "high"]),
                )
                self.created.append(row.id)
                known.append(row.id)
            elif roll < 0.55:
                text = f"{self.name} note {step}"
                await engine.add_note(rng.choice(known), text)
                self.notes.append(text)
            elif roll < 0.80:
                rid = rng.choice(known)
                row = engine.get(rid)
                if row is None:
                    return
                targets = sorted(TRANSITIONS[row.status], key=lambda s: s.value)
                await engine.set_status(rid, rng.choice(targets).value)
            elif roll < 0.92 or engine.config.role == Role.STAFF:
                await engine.update_request(
                    rng.choice(known), {"description": f"{self.name} edit {step}"}
                )
            else:
                # A manager acknowledges a few pending requests at once (all or none).
                pending = [
                    rid
                    for rid in known
                    if (row := engine.get(rid)) is not None and row.status == Status.PENDING
                ]
                if not pending:
                    return
                ids = rng.sample(pending, min(len(pending), rng.randint(2, 4)))
                await engine.bulk_set_status(ids, "acknowledged")
            self.made += 1
        except Rejected:
            self.refused_locally += 1


def client_of(key: str) -> str:
    """The client_id in a server's exactly-once key (``client_id`` or ``user/client_id``)."""
    return key.rsplit("/", 1)[-1]


def server_last_n(server, user: str, client_id: str) -> int:
    """The highest ``n`` the running server has processed for this user's terminal."""
    known = server.store.state.client_last_n
    return max(known.get(client_id, 0), known.get(f"{user}/{client_id}", 0))


@dataclass
class Audit:
    """What the server committed, per client."""

    outcomes: dict[str, list[tuple[int, str]]]
    """client_id → [(n, outcome type)] in ``n`` order."""
    change_keys: Counter[tuple[str, int, str]]
    """(client_id, n, request_id) → how many change-log entries."""
    order: dict[str, list[int]]
    """client_id → the ``n`` of its change-log entries, in ``seq`` order."""
    integrity: str

    @classmethod
    def read(cls, db_path: Path) -> Audit:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            outcomes: dict[str, list[tuple[int, str]]] = {}
            for key, n, frame, seq in db.execute(
                "SELECT client_id, n, frame, seq FROM outcomes ORDER BY client_id, n"
            ):
                # An ack is stored as its seq (rebuilt from the log when resent).
                kind = "ack" if not frame and seq is not None else json.loads(frame)["type"]
                outcomes.setdefault(client_of(key), []).append((n, kind))
            keys: Counter[tuple[str, int, str]] = Counter()
            order: dict[str, list[int]] = {}
            for cid, n, rid in db.execute(
                "SELECT client_id, n, request_id FROM changes WHERE client_id IS NOT NULL"
                " ORDER BY seq"
            ):
                keys[(cid, n, rid)] += 1
                order.setdefault(cid, []).append(n)
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.close()
        return cls(outcomes, keys, order, integrity)

    def lost(self, client_id: str, made: int) -> int:
        """Mutations ``1..made`` of a client with no stored outcome (never processed)."""
        have = {n for n, _ in self.outcomes.get(client_id, [])}
        return sum(1 for n in range(1, made + 1) if n not in have)

    def doubled(self) -> int:
        return sum(count - 1 for count in self.change_keys.values() if count > 1)

    def out_of_order(self, client_id: str) -> int:
        ns = self.order.get(client_id, [])
        return sum(1 for a, b in itertools.pairwise(ns) if b < a)

    def rejected(self, client_id: str) -> int:
        return sum(1 for _, kind in self.outcomes.get(client_id, []) if kind == "reject")


async def server_rows(url: str, token: str) -> dict[str, Request]:
    """Every request the server lists at ``GET /api/v1/requests`` (all pages)."""
    rows: dict[str, Request] = {}
    cursor = "0"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while True:
            answer = await http.get(
                "/api/v1/requests",
                params={"cursor": cursor, "limit": "1000"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            for data in body["requests"]:
                row = Request.model_validate(data)
                rows[row.id] = row
            if body["next_cursor"] is None:
                return rows
            cursor = str(body["next_cursor"])


def as_json(rows: dict[str, Request] | list[Request]) -> dict[str, Any]:
    values = rows.values() if isinstance(rows, dict) else rows
    return {r.id: r.model_dump(mode="json") for r in values}


def differing(engine: Engine, server: dict[str, Request]) -> list[str]:
    """Ids where the engine's view differs from the server's rows."""
    mine = as_json(engine.requests())
    theirs = as_json(server)
    return sorted(i for i in mine.keys() | theirs.keys() if mine.get(i) != theirs.get(i))


def note_counts(rows: dict[str, Request]) -> Counter[str]:
    return Counter(n.text for r in rows.values() for n in r.notes)
