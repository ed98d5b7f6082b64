"""Rows kept small in memory, and the collector kept off the big, long-lived heap.

Memory: every row loaded or received is passed through ``compact`` (``protocol.pydantic_adapter``:
one shared fields-set, interned short strings), which more than halves what a row costs.

Speed: rows are still validated with ``model_validate_json`` when a replica opens. Building them
from ``json.loads`` with ``model_construct``-style code was tried and measured slower (8 to 11 µs a
row against 6 to 7 µs: pydantic's Rust validator beats Python-level conversion). What did cost was
the garbage collector: 100,000 new models trigger full collections over an ever-growing heap,
about doubling the load time and causing 0.3 to 0.7 s pauses later. ``settle_heap`` moves what is
loaded into the permanent generation (``gc.freeze``), so later collections skip it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

from protocol import Request
from protocol.pydantic_adapter import compact


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
