"""The pydantic internals ``protocol.pydantic_adapter`` relies on are still there and work.

``compact`` shares one fields-set between complete rows and interns their short strings by
writing into the model's ``__pydantic_fields_set__`` and ``__dict__``. If a pydantic release
stores a model's fields or its fields-set elsewhere, this fails: fix the adapter, nothing else.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

from protocol import Category, Priority, Request, Status
from protocol.pydantic_adapter import compact


def _row_json(room: str) -> str:
    now = datetime.now(UTC)
    return Request(
        id=str(uuid.uuid4()),
        number=7,
        room=room,
        category=Category.HOUSEKEEPING,
        description="towels",
        priority=Priority.NORMAL,
        assignee="bob",
        created_by="ann",
        created_at=now,
        updated_at=now,
        due_at=now,
    ).model_dump_json()


def test_compacted_rows_share_one_fields_set_and_keep_their_values():
    room = "".join(["10", "1"])  # built at run time: not interned already
    first = Request.model_validate_json(_row_json(room))
    second = Request.model_validate_json(_row_json(room))
    assert "__pydantic_fields_set__" in dir(first) and "room" in first.__dict__
    before = first.model_dump()
    assert compact(first) is first
    compact(second)
    assert first.model_dump() == before
    assert first.model_fields_set == set(Request.model_fields)
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.room is second.room is sys.intern(room)
    assert first.created_by is sys.intern("ann") and first.assignee is sys.intern("bob")


def test_a_copy_of_a_compacted_row_leaves_the_shared_set_alone():
    row = compact(Request.model_validate_json(_row_json("12")))
    other = compact(Request.model_validate_json(_row_json("13")))
    moved = row.model_copy(update={"status": Status.COMPLETED})
    assert moved.status is Status.COMPLETED and row.status is Status.PENDING
    assert other.model_fields_set == set(Request.model_fields)
    assert row == Request.model_validate_json(row.model_dump_json())


def test_a_trusted_row_equals_the_validated_one_and_behaves_like_it():
    fields = Request.model_validate_json(_row_json("14")).model_dump()
    trusted = Request.trusted(**fields)
    validated = Request.model_validate(fields)
    assert trusted == validated
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert trusted.model_fields_set == validated.model_fields_set
    moved = trusted.model_copy(update={"status": Status.COMPLETED})
    assert moved.status is Status.COMPLETED and trusted.status is Status.PENDING
