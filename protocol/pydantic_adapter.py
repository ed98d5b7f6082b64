"""The one place frontdesk touches pydantic's internals, for two measured speed-ups.

pydantic has no public way to do either; this module alone uses them, and
tests/test_protocol_pydantic_adapter.py fails if a pydantic release stores a model's fields or
its fields-set elsewhere (fix this module then, nothing else):

- ``build_trusted``: a model from values the rule book has already validated, every field
  given. What ``model_construct`` does, without its per-field alias and default lookups: a third
  of a create's cost on the server's hot path (``Request.trusted``, called by the mutators).
- ``compact``: rows kept small in memory. pydantic gives every model its own
  ``__pydantic_fields_set__``, a 20-name set of about 2.2 KiB, over half of what a ``Request``
  costs: at 100,000 rows, ~220 MiB of identical sets. Every row that came from the server or
  the replica has all its fields set, so ``compact`` makes them share one set, and interns the
  repeated short strings (rooms, user names) in the row's field storage. The engine calls it on
  every row it loads or receives.

Both write with ``object.__setattr__`` / the field dict itself (``Request`` is frozen); values
stay equal, so nothing a caller can see changes.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__
_intern = sys.intern
_ALL_SET: dict[type[BaseModel], set[str]] = {}
"""Per model class, the one fields-set shared by every complete row."""


def build_trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """An instance of ``cls`` holding ``fields`` as they are (every field given, validated)."""
    row = _new(cls)
    _set(row, "__dict__", fields)
    _set(row, "__pydantic_fields_set__", set(fields))
    _set(row, "__pydantic_extra__", None)
    _set(row, "__pydantic_private__", None)
    return row


def compact(row: M) -> M:
    """``row``, sharing the common fields-set and interned short strings (same values).

    Interns ``room``, ``created_by`` and ``assignee`` where the model has them."""
    cls = type(row)
    shared = _ALL_SET.get(cls)
    if shared is None:
        shared = _ALL_SET[cls] = set(cls.model_fields)
    if row.__pydantic_fields_set__ == shared:
        _set(row, "__pydantic_fields_set__", shared)
    d = row.__dict__
    for name in ("room", "created_by", "assignee"):
        value = d.get(name)
        if isinstance(value, str):
            d[name] = _intern(value)
    return row
