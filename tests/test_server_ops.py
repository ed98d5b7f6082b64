"""Operators back up and export a live server's data without stopping it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging

import pytest
from conftest import make_config, start_server
from helpers import connect_as, wait_for

from backend.ops import backup, export, postgres_tool
from backend.pg_store import PostgresStore
from backend.sqlite_store import SqliteStore
from backend.store import Store


async def test_a_backup_taken_while_serving_opens_with_every_acked_request(
    server, tmp_path, store_kind, request
):
    ann = await connect_as(server, "ann")
    made = [await ann.create(room=str(100 + i)) for i in range(5)]
    url = server.config.database_url
    target = tmp_path / "backup" / "copy.dump"
    target.parent.mkdir()
    size = await backup(server.config.data_dir, target, url)
    assert size > 0
    with pytest.raises(ValueError, match="already exists"):
        await backup(server.config.data_dir, target, url)
    if store_kind == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        restored_url = cluster.dsn(cluster.create_database())
        restore = await asyncio.create_subprocess_exec(
            postgres_tool("pg_restore"), f"--dbname={restored_url}", str(target)
        )
        assert await restore.wait() == 0
        restored: Store = await PostgresStore.open(restored_url, load_requests=True)
    else:
        (tmp_path / "restored").mkdir()
        target.rename(tmp_path / "restored" / "frontdesk.sqlite3")
        restored = await SqliteStore.open(tmp_path / "restored")
    try:
        assert set(restored.state.requests) == {r["id"] for r in made}
        assert restored.server_id == server.store.server_id
        assert restored.state.head_seq == server.store.state.head_seq
    finally:
        await restored.close()
    await ann.close()


async def test_export_gives_csv_a_spreadsheet_cannot_run_and_exact_json(server):
    ann = await connect_as(server, "ann")
    await ann.create(description='=HYPERLINK("http://evil")', guest_name="Zoë Dubois")
    await ann.create(description="Two extra towels\nand soap")
    as_json = json.loads(await export(server.config.data_dir, "json", server.config.database_url))
    assert [r["description"] for r in as_json] == [
        '=HYPERLINK("http://evil")',
        "Two extra towels\nand soap",
    ]
    rows = list(
        csv.DictReader(
            io.StringIO(await export(server.config.data_dir, "csv", server.config.database_url))
        )
    )
    assert rows[0]["description"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["guest_name"] == "Zoë Dubois" and rows[1]["notes"] == "0"
    assert rows[1]["description"] == "Two extra towels\nand soap"
    with pytest.raises(ValueError):
        await export(server.config.data_dir, "xml")  # type: ignore[arg-type]
    await ann.close()


async def test_each_connection_leaves_one_log_line_saying_how_it_ended(tmp_path, caplog):
    """An operator reading the log sees one line per connection: who, which terminal, how long,
    and, when the server closed it, why."""
    caplog.set_level(logging.INFO, logger="frontdesk")
    server = await start_server(make_config(tmp_path, chatter_rate=1, chatter_burst=2))
    try:
        ann = await connect_as(server, "ann")
        await ann.create()
        await ann.close()
        bob = await connect_as(server, "bob")
        for _ in range(5):
            await bob.send({"type": "presence", "viewing": None, "editing": False})
        await bob.ws.wait_closed()

        def lines() -> list[str]:
            return [r.getMessage() for r in caplog.records if "event=connection" in r.getMessage()]

        await wait_for(lambda: len(lines()) == 2, message=f"log lines: {lines()}")
        mine = [
            m
            for r in caplog.records
            if "user=ann" in (m := r.getMessage()) and "event=sign-in" not in m
        ]
        assert mine == [lines()[0]], "one line for ann's whole connection (and one sign-in)"
        assert f"client={ann.client_id!r}" in mine[0] and "closed_by=client" in mine[0]
        assert "closed_by=server" in lines()[1] and "rate limited" in lines()[1]
        assert "code=1008" in lines()[1]
    finally:
        await server.close()
