"""The triage model: category and priority for a description, from history and rules.

Pure logic over rows handed to it (no I/O, no event loop): ``learn`` follows one row (a new,
edited or deleted request), ``suggest`` answers for a text being typed.

- **Category**: multinomial naive Bayes (``offline.triage.bayes``) over words, word pairs and
  word pieces (``offline.triage.words``). It starts from the built-in rule table as seed
  examples (each phrase counted ``SEED_WEIGHT`` times) and learns every request of the
  replica on top, so a new hotel gets the rules' answer and an old one its own habits.
- **Priority**: a rule that names a priority wins (a burst pipe is urgent whatever the habit);
  otherwise the hotel's history, but only once it holds ``MIN_HISTORY`` requests and only when
  its naive Bayes is at least ``SURE`` of the answer; otherwise none is suggested (the form
  keeps "normal"). On the labelled set, with ~200 requests of history, learned priority was
  right less often than the rules alone, so it is held back until there is much more history.

The figures behind these choices (accuracy on the labelled set, each part alone) are in
docs/PERFORMANCE.md, "Triage".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from offline.triage import rules
from offline.triage.bayes import NaiveBayes
from offline.triage.words import features
from protocol import Category, Priority, Request

CATEGORIES = tuple(c.value for c in Category)
PRIORITIES = tuple(p.value for p in Priority)
SEED_WEIGHT = 2
"""Times each rule phrase counts as an example: 1 let ~200 requests of history outvote the
table too soon (86-87 % category against 87-90 %); 3 gained half a point over 2 on the labelled
set but would keep a hotel's own habits outvoted longer."""
CATEGORY_ALPHA = 0.3
"""Smoothing of the category counts: 0.1 and 0.3 were within a point of each other on the
labelled halves, 1.0 lost 2 to 4 points."""
PRIORITY_ALPHA = 1.0
"""Smoothing of the priority counts: with 0.1 a word seen once with "urgent" pulls hard
towards it (history alone: 62 % priority with 0.1, 67 to 73 % with 1.0)."""
MIN_HISTORY = 1000
"""Requests of history before the learned priority is offered: with ~200 it was right less
often than the rule table with "normal" as the fallback, at every threshold tried."""
SURE = 0.9
"""Probability the learned priority needs to be offered (lower thresholds lost more accuracy
on the labelled halves: most requests are "normal", and a guess away from it is often wrong)."""


@dataclass(frozen=True)
class Suggestion:
    """What the form offers; either part may be None (nothing to say about it)."""

    category: str | None
    priority: str | None
    learned: bool
    """True when the hotel's history took part (False: the built-in rules alone)."""


class Example(NamedTuple):
    """What one request teaches: its text and the choices staff made (or corrected)."""

    description: str
    category: str
    priority: str

    @classmethod
    def of(cls, row: Request) -> Example:
        return cls(row.description, row.category.value, row.priority.value)


class TriageModel:
    """Seeded classifiers plus the rows they learned, to take back an edited row's old text."""

    def __init__(self, *, seeded: bool = True) -> None:
        """``seeded=False``: without the rule table's examples (to measure history alone)."""
        self.category = NaiveBayes(CATEGORIES, CATEGORY_ALPHA)
        self.priority = NaiveBayes(PRIORITIES, PRIORITY_ALPHA)
        for rule in rules.RULES if seeded else ():
            for phrase in rule.phrases:
                feats = features(phrase)
                for _ in range(SEED_WEIGHT):
                    self.category.add(feats, rule.category)
        self._learned: dict[str, Example] = {}

    @property
    def history(self) -> int:
        """Requests learned from."""
        return len(self._learned)

    def learn(self, request_id: str, row: Request | None) -> None:
        """Follow one row: its current text and choices count, its old version no more."""
        self.learn_example(request_id, Example.of(row) if row is not None else None)

    def learn_example(self, key: str, example: Example | None) -> None:
        """``learn`` for an example that is not a row (the labelled set)."""
        old = self._learned.get(key)
        if old == example:
            return
        if old is not None:
            feats = features(old.description)
            self.category.remove(feats, old.category)
            self.priority.remove(feats, old.priority)
            del self._learned[key]
        if example is not None:
            feats = features(example.description)
            self.category.add(feats, example.category)
            self.priority.add(feats, example.priority)
            self._learned[key] = example

    def suggest(self, text: str) -> Suggestion | None:
        """Category and priority for ``text``; None while it says nothing recognisable."""
        feats = features(text)
        if not feats:
            return None
        rule = rules.match(text)
        ranked = self.category.rank(feats)
        known = self.category.knows_any(feats)
        category = ranked[0][0] if ranked and known else None
        if rule is not None and rule.priority is not None:
            priority: str | None = rule.priority
        else:
            priority = self._learned_priority(feats)
        if category is None and priority is None:
            return None
        return Suggestion(category, priority, learned=self.history > 0)

    def _learned_priority(self, feats: list[str]) -> str | None:
        if self.history < MIN_HISTORY or not self.priority.knows_any(feats):
            return None
        label, probability = self.priority.rank(feats)[0]
        return label if probability >= SURE else None
