"""The one place the offline engine touches pydantic's internals: rows kept small in memory.

pydantic gives every model its own ``__pydantic_fields_set__``, a 20-name set of about 2.2 KiB,
over half of what a ``Request`` costs: at 100,000 rows, ~220 MiB of identical sets. Every row
that came from the server or the replica has all its fields set, so ``compact`` makes them all
share one set, and interns the repeated short strings (rooms, user names) in the row's field
storage. pydantic has no public way to do either; this module alone uses:

- ``BaseModel.__pydantic_fields_set__`` (replaced by an equal, shared set: pydantic copies the
  set before it would change it, in ``model_copy``, and ``Request`` is frozen);
- ``BaseModel.__dict__`` as the field storage (a string replaced by an equal, interned one).

Both are written with ``object.__setattr__`` / the dict itself, since ``Request`` is frozen;
values stay equal, so nothing a caller can see changes. tests/test_offline_pydantic_adapter.py
fails if a pydantic release stores fields or the fields-set elsewhere.
"""

from __future__ import annotations

import sys

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
