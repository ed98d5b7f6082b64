"""Operators back up and export a live server's data without stopping it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from helpers import connect_as

from backend.ops import backup, export
from backend.store import Store


async def test_a_backup_taken_while_serving_opens_with_every_acked_request(server, tmp_path):
    ann = await connect_as(server, "ann")
    made = [await ann.create(room=str(100 + i)) for i in range(5)]
    target = tmp_path / "backup" / "copy.sqlite3"
    target.parent.mkdir()
    size = await backup(server.config.data_dir, target)
    assert size > 0
    with pytest.raises(ValueError, match="already exists"):
        await backup(server.config.data_dir, target)
    (tmp_path / "restored").mkdir()
    target.rename(tmp_path / "restored" / "frontdesk.sqlite3")
    restored = await Store.open(tmp_path / "restored")
    try:
        assert set(restored.requests) == {r["id"] for r in made}
        assert restored.server_id == server.store.server_id
    finally:
        await restored.close()
    await ann.close()


async def test_export_gives_csv_a_spreadsheet_cannot_run_and_exact_json(server):
    ann = await connect_as(server, "ann")
    await ann.create(description='=HYPERLINK("http://evil")', guest_name="Zoë Dubois")
    await ann.create(description="Two extra towels\nand soap")
    as_json = json.loads(await export(server.config.data_dir, "json"))
    assert [r["description"] for r in as_json] == [
        '=HYPERLINK("http://evil")',
        "Two extra towels\nand soap",
    ]
    rows = list(csv.DictReader(io.StringIO(await export(server.config.data_dir, "csv"))))
    assert rows[0]["description"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["guest_name"] == "Zoë Dubois" and rows[1]["notes"] == "0"
    assert rows[1]["description"] == "Two extra towels\nand soap"
    with pytest.raises(ValueError):
        await export(server.config.data_dir, "xml")  # type: ignore[arg-type]
    await ann.close()
