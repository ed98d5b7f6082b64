"""Rows kept small in memory, and the collector kept off the big, long-lived heap.

Memory: pydantic gives every model its own ``__pydantic_fields_set__``, a 20-name set of about
2.2 KiB — over half of what a ``Request`` costs. Every row that came from the server or the
replica has all its fields set, so they all share one set (``compact``); pydantic copies the set
before it would change it (``model_copy``), and ``Request`` is frozen. Repeated short strings
(rooms, user names) are interned.

Speed: rows are still validated with ``model_validate_json`` when a replica opens. Building them
from ``json.loads`` with ``model_construct``-style code was tried and measured slower (8 to 11 µs a
row against 6 to 7 µs: pydantic's Rust validator beats Python-level conversion). What did cost was
the garbage collector: 100,000 new models trigger full collections over an ever-growing heap,
about doubling the load time and causing 0.3 to 0.7 s pauses later. ``settle_heap`` moves what is
loaded into the permanent generation (``gc.freeze``), so later collections skip it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable

from protocol import Request

_ALL_SET: set[str] = set(Request.model_fields)
"""The one fields-set shared by every complete row."""
_intern = sys.intern
_set = object.__setattr__


def compact(row: Request) -> Request:
    """``row``, sharing the common fields-set and interned short strings (same values)."""
    if row.__pydantic_fields_set__ == _ALL_SET:
        _set(row, "__pydantic_fields_set__", _ALL_SET)
    d = row.__dict__
    d["room"] = _intern(d["room"])
    d["created_by"] = _intern(d["created_by"])
    if d["assignee"] is not None:
        d["assignee"] = _intern(d["assignee"])
    return row


def from_replica(datas: Iterable[str]) -> list[Request]:
    """Rows from JSON this engine wrote (validated all the same: it is the fastest way)."""
    validate = Request.model_validate_json
    return [compact(validate(data)) for data in datas]


YOUNG_THRESHOLD = 10_000
"""Allocations between two young collections (CPython's default is 700)."""
FULL_EVERY = 100
"""Middle-generation collections between two full ones (default 10)."""


def settle_heap() -> None:
    """Take everything alive now out of the collector's generations (after a big load), and
    collect less often from then on.

    Objects frozen here are still freed by reference counting; only reference cycles among
    them would never be collected, and loaded rows hold none. A repaint allocates thousands of
    short-lived objects: with the default thresholds the TUI ran ~2,700 young and ~13 full
    collections in a bench run (full ones 30 to 60 ms each on this machine), now far fewer.
    """
    gc.freeze()
    young, middle, full = gc.get_threshold()
    if young and (young < YOUNG_THRESHOLD or full < FULL_EVERY):
        gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, max(full, FULL_EVERY))
