"""The queue's id list stays exactly what a full filter and sort would give, change after change."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from protocol.models import Category, Priority, Request, Status, utcnow
from tui.queue_model import QUICK_VIEWS, SORT_KEYS, QueueModel, search_text

NOW = utcnow()
WORDS = ["towels", "Leak", "sink", "taxi", "漢字", "key card", "[b]x[/b]"]


def random_request(rng: random.Random, rid: str | None = None, version: int = 1) -> Request:
    created = NOW - timedelta(minutes=rng.randint(0, 300))
    return Request(
        id=rid or str(uuid.UUID(int=rng.getrandbits(128))),
        number=rng.choice([None, rng.randint(1, 999)]),
        room=str(rng.randint(100, 1999)),
        category=rng.choice(list(Category)),
        description=" ".join(rng.choice(WORDS) for _ in range(3)),
        guest_name=rng.choice([None, "Mrs Tanaka", "Mr Ng"]),
        priority=rng.choice(list(Priority)),
        status=rng.choice(list(Status)),
        assignee=rng.choice([None, "ann", "bob"]),
        created_by=rng.choice(["ann", "meg"]),
        created_at=created,
        updated_at=created,
        due_at=created + timedelta(minutes=rng.choice([15, 60, 240])),
        completed_at=NOW if rng.random() < 0.3 else None,
        version=version,
    )


def expected(model: QueueModel) -> list[str]:
    view = model.view
    rows = [
        r
        for r in model.requests.values()
        if (not model.query or model.query in search_text(r)) and view.predicate(r, NOW, model.user)
    ]
    key = SORT_KEYS[model.sort_column]
    rows.sort(key=lambda r: (key(r), r.created_at, r.id), reverse=model.descending)
    return [r.id for r in rows]


def test_filtering_sorting_and_live_changes_match_a_full_recompute():
    rng = random.Random(5)
    model = QueueModel("ann", clock=lambda: NOW)
    model.replace_all(random_request(rng) for _ in range(300))
    for step in range(200):
        action = rng.random()
        if action < 0.4:
            ids = rng.sample(list(model.requests), 3)
            changed = [random_request(rng, rid, version=step + 2) for rid in ids]
            changed.append(random_request(rng))
            model.upsert(changed, removed=[rng.choice(list(model.requests))])
        elif action < 0.6:
            model.set_query(rng.choice(["", "t", "to", "tow", "leak", "12", "漢", "[b]", "ann"]))
        elif action < 0.8:
            model.set_view(rng.choice(list(QUICK_VIEWS)))
        else:
            model.set_sort(rng.choice(list(SORT_KEYS)))
        assert list(model.ids) == expected(model), f"step {step}"
        for rid in list(model.ids)[:5]:
            assert model.ids[model.position(rid)] == rid


def test_a_burst_of_changes_gives_what_a_full_recompute_gives():
    rng = random.Random(7)
    model = QueueModel("ann", clock=lambda: NOW)
    model.replace_all(random_request(rng) for _ in range(400))
    for step in range(30):
        model.set_view(rng.choice(list(QUICK_VIEWS)))
        model.set_query(rng.choice(["", "t", "tow", "12", "ann"]))
        model.set_sort(rng.choice(list(SORT_KEYS)))
        model.pinned.add(rng.choice(list(model.requests)))
        ids = rng.sample(list(model.requests), 80)
        changed = [random_request(rng, rid, version=step + 2) for rid in ids]
        changed += [random_request(rng) for _ in range(40)]
        model.upsert(changed, removed=rng.sample(sorted(set(model.requests) - set(ids)), 20))
        pinned = {rid for rid in model.pinned if rid in model.requests}
        want = expected(model)
        assert [rid for rid in model.ids if rid not in pinned] == [
            rid for rid in want if rid not in pinned
        ], f"step {step}"
        assert set(want) <= set(model.ids)
        for rid in list(model.ids)[:5]:
            assert model.ids[model.position(rid)] == rid


def test_a_row_an_action_touched_stays_visible_until_the_filter_changes():
    rng = random.Random(1)
    model = QueueModel("ann", clock=lambda: NOW)
    request = random_request(rng).model_copy(update={"status": Status.PENDING})
    model.replace_all([request])
    model.set_view("open")
    model.pinned.add(request.id)
    model.upsert([request.model_copy(update={"status": Status.COMPLETED, "version": 2})])
    assert list(model.ids) == [request.id]
    model.set_view("open")
    assert list(model.ids) == []
