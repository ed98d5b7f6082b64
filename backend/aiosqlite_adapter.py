"""The one place that reaches into aiosqlite's internals, for a measured speed-up.

aiosqlite runs every statement as one call queued to its thread; a group commit of several
statements then costs one event-loop hop per statement (~170 µs each under load). Queuing one
function that runs the whole transaction needs the connection's ``_execute`` and ``_conn``,
which every aiosqlite since 0.17 has (0.22 still offers no public way to run a function on
its thread). ``tests/test_aiosqlite_adapter.py`` checks they are still there and behave, so an
aiosqlite release that removes them fails a test instead of a night shift.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


def supported(db: aiosqlite.Connection) -> bool:
    """True when this aiosqlite still offers what ``run_in_db_thread`` uses."""
    return isinstance(getattr(db, "_conn", None), sqlite3.Connection) and callable(
        getattr(db, "_execute", None)
    )


async def run_in_db_thread(db: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(sqlite3_connection, *args)`` on ``db``'s own thread, as one queued call."""
    conn = db._conn  # the sqlite3.Connection owned by aiosqlite's thread
    result: T = await db._execute(fn, conn, *args)  # type: ignore[no-untyped-call]  # internal
    return result
