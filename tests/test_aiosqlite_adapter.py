"""The aiosqlite internals ``backend.aiosqlite_adapter`` relies on are still there and work.

``run_in_db_thread`` queues one function on the connection's own thread with its own
``sqlite3.Connection``; the SQLite store's group commit is such a function. If an aiosqlite
release renames ``_conn``/``_execute`` or runs them elsewhere, this fails: fix the adapter.
"""

from __future__ import annotations

import sqlite3
import threading

import aiosqlite

from backend.aiosqlite_adapter import run_in_db_thread, supported


async def test_a_function_runs_on_the_connections_thread_with_its_connection(tmp_path):
    db = await aiosqlite.connect(tmp_path / "x.sqlite3", isolation_level=None)
    try:
        assert supported(db)
        await db.execute("CREATE TABLE t (v INTEGER)")

        def write(conn: sqlite3.Connection, values: list[int]) -> int:
            assert isinstance(conn, sqlite3.Connection)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO t (v) VALUES (?)", [(v,) for v in values])
            conn.execute("COMMIT")
            return threading.get_ident()

        thread = await run_in_db_thread(db, write, [1, 2, 3])
        assert thread != threading.get_ident(), "ran on aiosqlite's thread, not the loop's"
        rows = await db.execute_fetchall("SELECT v FROM t ORDER BY v")
        assert [r[0] for r in rows] == [1, 2, 3], "the same connection, committed"
    finally:
        await db.close()
