"""The triage model on its own: measured accuracy, the rule table, and learning from history."""

from __future__ import annotations

from triage_kit import guest_names, labelled

from offline.triage import rules
from offline.triage.assistant import Example, TriageModel
from offline.triage.evaluation import score, split
from protocol import Category, Priority


def test_the_labelled_set_is_big_and_covers_every_category_and_priority():
    examples = labelled()
    assert len(examples) >= 300
    assert {e.category for e in examples} == {c.value for c in Category}
    assert {e.priority for e in examples} == {p.value for p in Priority}
    assert sum(not name.isascii() for name in guest_names()) >= 40  # names from many languages


def test_category_is_right_for_at_least_85_percent_of_the_unseen_half():
    first, second = split(labelled())
    for learn, test in ((first, second), (second, first)):
        got = score(learn, test)
        assert got.category >= 0.85, got
        assert got.priority >= 0.80, got


def test_a_hotel_with_no_history_gets_the_rule_table():
    model = TriageModel()
    cases = {
        "water coming through the ceiling in 817": ("maintenance", "urgent"),
        "Guest locked out of 1204": ("front_desk", "high"),
        "no hot water in the shower": ("maintenance", "high"),
        "smoke from the socket by the desk": ("maintenance", "urgent"),
        "leak under the sink": ("maintenance", "high"),
    }
    for text, want in cases.items():
        got = model.suggest(text)
        assert got is not None and (got.category, got.priority) == want, (text, got)
        assert not got.learned


def test_a_hotel_that_files_things_its_own_way_is_followed():
    model = TriageModel()
    assert model.suggest("minibar restock").category == "room_service"  # the table's view
    for n in range(40):
        model.learn_example(str(n), Example("minibar restock for the suite", "housekeeping", "low"))
    assert model.suggest("minibar restock").category == "housekeeping"


def test_an_edited_request_teaches_only_its_new_version():
    edited, fresh = TriageModel(seeded=False), TriageModel(seeded=False)
    edited.learn_example("a", Example("towels please", "maintenance", "urgent"))
    edited.learn_example("a", Example("towels please", "housekeeping", "normal"))
    fresh.learn_example("a", Example("towels please", "housekeeping", "normal"))
    assert edited.category.counts == fresh.category.counts
    assert edited.priority.counts == fresh.priority.counts
    edited.learn_example("a", None)
    assert edited.history == 0 and not any(edited.category.counts.values())


def test_typos_and_other_languages_still_find_their_category():
    model = TriageModel()
    for text, category in {
        "tolet clogged": "maintenance",
        "Towles for the pool": "housekeeping",
        "Frühstück aufs Zimmer": "room_service",
        "reservar mesa para dos": "concierge",
    }.items():
        got = model.suggest(text)
        assert got is not None and got.category == category, (text, got)


def test_rules_are_ordered_most_pressing_first():
    assert rules.match("smoke detector beeping").priority == "high"
    assert rules.match("smoke coming from the wall, detector beeping").priority == "urgent"
    assert rules.match("") is None and rules.match("1204") is None
