"""Demo data: a believable hotel shift, made through the real mutators and the change log.

Every demo request is created and moved by ``protocol.mutators`` with a ``now`` in the past, and
committed through ``Store.commit_batch`` like real mutations (change-log entries, ticket numbers),
so the demo exercises the same paths a real shift does.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from backend.accounts import Accounts
from backend.accounts import issue_token as issue_token
from backend.seeding import Seeder
from backend.store import open_store
from protocol.models import Role, utcnow
from protocol.rules import Actor, Rejection

DEMO_MANAGER = "demo"
DEMO_PASSWORD = "demo"
DEMO_STAFF = ("ana", "ben", "chloe")

DESCRIPTIONS: dict[str, list[str]] = {
    "housekeeping": [
        "Two extra towels",
        "Extra pillows, hypoallergenic please",
        "Room not made up yet",
        "Fresh bath robes",
        "Crib for the baby",
        "Spilled wine on the carpet",
        "More coffee pods and milk",
    ],
    "maintenance": [
        "Leak under the bathroom sink",
        "Air conditioning blows warm air",
        "TV remote does not work",
        "Shower drain is blocked",
        "Bedside lamp flickers",
        "Door lock battery low, card works only sometimes",
        "Toilet keeps running",
    ],
    "room_service": [
        "Breakfast for two at 07:30",
        "Club sandwich and a sparkling water",
        "Ice bucket and two glasses",
        "Collect the tray outside the door",
        "Birthday cake with candles at 20:00",
    ],
    "concierge": [
        "Taxi to the airport at 05:45",
        "Dinner reservation for four, Italian",
        "Theatre tickets for Saturday",
        "Umbrella loan",
        "Luggage storage until 18:00",
    ],
    "front_desk": [
        "Late checkout until 14:00",
        "Invoice to the company address",
        "Second key card",
        "Wake-up call at 06:00",
        "Change to a quieter room",
    ],
    "other": [
        "Lost earring, possibly in the spa",
        "Guest asks about parking for a van",
        "Noise complaint from the neighbouring room",
        "Parcel expected by courier today",
    ],
}
GUESTS = [
    "Maria Rossi",
    "James O'Neill",
    "Yuki Tanaka",
    "Fatima Zahra",
    "Lars Nilsson",
    "Ana Souza",
    "Chen Wei",
    "Olivia Brown",
    "Mehmet Yilmaz",
    "Sophie Martin",
    "Raj Patel",
    "Zoë Dubois",
    "Jürgen Weiß",
    "Aiko Sato",
    None,
    None,
    None,
]


def _room(rng: random.Random) -> str:
    floor = rng.randint(1, 15)
    return f"{floor}{rng.randint(1, 20):02d}"


def _priority(rng: random.Random) -> str:
    return rng.choices(["low", "normal", "high", "urgent"], weights=[20, 55, 18, 7])[0]


_PATHS: list[tuple[list[str], int]] = [
    ([], 30),
    (["acknowledged"], 15),
    (["in_progress"], 12),
    (["acknowledged", "in_progress"], 10),
    (["acknowledged", "in_progress", "completed"], 20),
    (["in_progress", "completed"], 8),
    (["cancelled"], 5),
]
"""Status paths (valid transitions only) and how often each is taken."""


async def seed_demo_data(
    data_dir: Path | None, count: int = 200, seed: int = 7, database_url: str | None = None
) -> int:
    """Fill an empty store with ``count`` demo requests and the demo users; returns how many.

    A no-op (returning 0) when the store already has requests. Users: ``demo`` (manager,
    password ``demo``) and staff ``ana``, ``ben``, ``chloe`` (password = name).
    """
    store = await open_store(data_dir, database_url)
    try:
        accounts = Accounts(store)
        existing = {u["name"] for u in await accounts.list_users()}
        if DEMO_MANAGER not in existing:
            await accounts.add_user(DEMO_MANAGER, Role.MANAGER, DEMO_PASSWORD)
        for name in DEMO_STAFF:
            if name not in existing:
                await accounts.add_user(name, Role.STAFF, name + "-pass")
        if store.state.next_number > 1:  # numbers handed out: the store has requests
            return 0
        rng = random.Random(seed)
        seeder = Seeder(store)
        now = utcnow()
        people = [Actor(DEMO_MANAGER, Role.MANAGER)] + [Actor(n, Role.STAFF) for n in DEMO_STAFF]
        created = 0
        for _ in range(count):
            category = rng.choice(list(DESCRIPTIONS))
            # Most requests are recent; some are from earlier in the shift (a few now overdue).
            age = timedelta(
                minutes=rng.uniform(1, 40) if rng.random() < 0.6 else rng.uniform(30, 600)
            )
            at = now - age
            author = rng.choice(people)
            args: dict[str, Any] = {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "room": _room(rng),
                "category": category,
                "description": rng.choice(DESCRIPTIONS[category]),
                "priority": _priority(rng),
            }
            guest = rng.choice(GUESTS)
            if guest is not None:
                args["guest_name"] = guest
            row = seeder.apply("create_request", args, author, at)
            if isinstance(row, Rejection):
                continue
            created += 1
            path = rng.choices([p for p, _ in _PATHS], weights=[w for _, w in _PATHS])[0]
            late = row.due_at <= now
            if (age > timedelta(minutes=45) or late) and rng.random() < 0.95:
                path = ["acknowledged", "in_progress", "completed"]  # old news is mostly done
            if path and rng.random() < 0.8:
                at += timedelta(minutes=rng.uniform(0.5, 5))
                staff = rng.choice(DEMO_STAFF)
                seeder.apply("assign", {"id": row.id, "assignee": staff}, author, at)
            elif rng.random() < 0.15:
                at += timedelta(minutes=rng.uniform(0.5, 5))
                seeder.apply(
                    "assign", {"id": row.id, "assignee": rng.choice(DEMO_STAFF)}, author, at
                )
            for status in path:
                # Steps fit in the time since the request came in, so finished ones are finished.
                step = timedelta(
                    minutes=rng.uniform(0.2, max(0.5, (now - at).total_seconds() / 240))
                )
                if at + step >= now:
                    break
                at += step
                actor = people[0] if status == "cancelled" else rng.choice(people)
                seeder.apply("set_status", {"id": row.id, "status": status}, actor, at)
            current = seeder.rows.get(row.id)
            # Somebody took the alert: the night manager, minutes after it rang. A few stay
            # open, so the demo opens with something to acknowledge.
            if current is not None and current.alerts and current.status != "pending":
                taken = current.alerts[0].at + timedelta(minutes=rng.uniform(1, 8))
                if rng.random() < 0.9:
                    args = {"id": row.id, "index": 0}
                    seeder.apply("acknowledge_alert", args, people[0], min(now, taken))
            if rng.random() < 0.12 and at < now:
                seeder.apply(
                    "add_note",
                    {
                        "id": row.id,
                        "text": rng.choice(
                            [
                                "Guest called again",
                                "Parts ordered",
                                "Left a message on the room phone",
                                "Guest is VIP, please hurry",
                            ]
                        ),
                    },
                    rng.choice(people),
                    min(now, at + timedelta(minutes=1)),
                )
        await store.commit_batch(seeder.batch)
        return created
    finally:
        await store.close()


async def demo_token(data_dir: Path) -> dict[str, Any]:
    """A token for the demo manager, like ``GET /api/v1/token`` answers (no password typed)."""
    return await issue_token(data_dir, DEMO_MANAGER)
