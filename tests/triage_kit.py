"""The labelled front-desk requests the triage assistant is measured on (tests/data)."""

from __future__ import annotations

import csv
from pathlib import Path

from offline.triage.assistant import Example

DATA = Path(__file__).parent / "data"


def labelled(name: str = "triage_requests.csv") -> list[Example]:
    """Rows of ``tests/data/NAME``: description with the category and priority staff chose."""
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return [Example(r["description"], r["category"], r["priority"]) for r in csv.DictReader(f)]


def guest_names(name: str = "triage_requests.csv") -> list[str]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return [r["guest_name"] for r in csv.DictReader(f) if r["guest_name"]]
