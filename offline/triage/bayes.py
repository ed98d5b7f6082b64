"""A multinomial naive Bayes classifier that learns and unlearns one example at a time.

Why this one: a hotel's history is a few hundred to a few hundred thousand short texts, each
with a category and a priority chosen (or corrected) by staff. Naive Bayes learns from counts,
so adding a request, or taking back the old version of an edited one, is a few dictionary
updates: the model follows the replica live, never retrains, and answers in microseconds.
It needs no tuning beyond its smoothing and no library: heavier models (logistic regression,
gradient boosting, embeddings) were not tried, since each would bring a large dependency for a
few hundred to a few hundred thousand short texts. Its probabilities are poorly calibrated, so
they are only compared with each other and with a threshold measured on the labelled set,
never shown as percentages.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence


class NaiveBayes:
    """Counts of features per label; ``rank`` gives labels most likely first."""

    def __init__(self, labels: Iterable[str], alpha: float = 0.1) -> None:
        self.labels = tuple(labels)
        self.alpha = alpha
        """Added to every count (Lidstone smoothing): a word never seen with a label makes it
        unlikely, not impossible (the values used, and why: ``offline.triage.assistant``)."""
        self.docs: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.total: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.counts: dict[str, Counter[str]] = {label: Counter() for label in self.labels}
        self._seen: Counter[str] = Counter()
        """Feature → labels it is counted under, summed: the vocabulary is its keys."""

    @property
    def examples(self) -> int:
        return sum(self.docs.values())

    def add(self, features: Sequence[str], label: str, sign: int = 1) -> None:
        """Learn one example (``sign=-1`` takes it back exactly)."""
        counts = self.counts[label]
        seen = self._seen
        if sign > 0:
            counts.update(features)  # counted in C: learning is most of a big replica's load
            seen.update(features)
        else:
            counts.subtract(features)
            seen.subtract(features)
            for f in features:  # a count back to zero leaves the vocabulary
                if counts.get(f) == 0:
                    del counts[f]
                if seen.get(f) == 0:
                    del seen[f]
        self.total[label] += sign * len(features)
        self.docs[label] += sign

    def remove(self, features: Sequence[str], label: str) -> None:
        self.add(features, label, -1)

    def knows_any(self, features: Iterable[str]) -> bool:
        """True when at least one feature was seen in some example (else ``rank`` is the
        prior alone, which says nothing about this text)."""
        seen = self._seen
        return any(f in seen for f in features)

    def rank(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """Labels with their probability under the model, most likely first; features never
        seen in any example are ignored (they say nothing); empty without examples."""
        examples = self.examples
        if not examples:
            return []
        seen = self._seen
        known = [f for f in features if f in seen]
        vocabulary = len(seen)
        alpha = self.alpha
        logs: list[tuple[float, str]] = []
        for label in self.labels:
            docs = self.docs[label]
            if not docs:
                continue
            counts = self.counts[label]
            denominator = math.log(self.total[label] + alpha * vocabulary)
            score = math.log(docs / examples)
            for f in known:
                score += math.log(counts.get(f, 0) + alpha) - denominator
            logs.append((score, label))
        top = max(score for score, _ in logs)
        weights = [(math.exp(score - top), label) for score, label in logs]
        whole = sum(w for w, _ in weights)
        ranked = [(label, w / whole) for w, label in weights]
        ranked.sort(key=lambda pair: -pair[1])
        return ranked
