"""How well the triage model does on a labelled set: learn one half, test on the other.

Pure: the caller reads the examples (tests/data/triage_requests.csv) and hands them over. The
split is a shuffle with a fixed seed, so the figures in docs/PERFORMANCE.md can be reproduced;
``swapped`` learns the second half and tests the first, to show the figure is not one lucky
split.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from offline.triage import rules
from offline.triage.assistant import Example, TriageModel
from offline.triage.words import features

SEED = 14


@dataclass(frozen=True)
class Scores:
    """Top-1 accuracy over ``tested`` examples (a missing suggestion counts as wrong)."""

    tested: int
    category: float
    priority: float


def split(examples: Sequence[Example], seed: int = SEED) -> tuple[list[Example], list[Example]]:
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


def score(learn: Sequence[Example], test: Sequence[Example]) -> Scores:
    """The shipped model (rule seeds + ``learn`` as history) on ``test``."""
    model = TriageModel()
    for i, example in enumerate(learn):
        model.learn_example(str(i), example)
    category = priority = 0
    for example in test:
        got = model.suggest(example.description)
        category += got is not None and got.category == example.category
        # No priority suggested leaves the form's default, "normal".
        priority += ((got.priority if got else None) or "normal") == example.priority
    return Scores(len(test), category / len(test), priority / len(test))


def score_rules(test: Sequence[Example]) -> Scores:
    """The rule table alone (a hotel with no history): no match counts as wrong."""
    category = priority = 0
    for example in test:
        rule = rules.match(example.description)
        category += rule is not None and rule.category == example.category
        priority += ((rule.priority if rule else None) or "normal") == example.priority
    return Scores(len(test), category / len(test), priority / len(test))


def score_history(learn: Sequence[Example], test: Sequence[Example]) -> Scores:
    """The learned classifiers alone, without the rule table (what history alone teaches)."""
    model = TriageModel(seeded=False)
    for i, example in enumerate(learn):
        model.learn_example(str(i), example)
    category = priority = 0
    for example in test:
        feats = features(example.description)
        cat = model.category.rank(feats)
        pri = model.priority.rank(feats)
        category += bool(cat) and cat[0][0] == example.category
        priority += bool(pri) and pri[0][0] == example.priority
    return Scores(len(test), category / len(test), priority / len(test))
