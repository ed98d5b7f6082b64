"""Operator helpers the CLI calls with a data directory: online backup and export.

Both work while a server is running on the same directory (WAL lets readers and the writer
proceed together) and never change the live database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Literal

from backend.store import DB_NAME
from protocol.models import Request

EXPORT_COLUMNS = (
    "number",
    "id",
    "room",
    "category",
    "priority",
    "status",
    "assignee",
    "guest_name",
    "description",
    "created_by",
    "created_at",
    "updated_at",
    "due_at",
    "acknowledged_at",
    "started_at",
    "completed_at",
    "version",
    "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _database(data_dir: Path) -> Path:
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        raise ValueError(f"no frontdesk database in {data_dir}")
    return path


def _backup(source: Path, target: Path) -> int:
    if target.exists():
        raise ValueError(f"{target} already exists; not overwriting it")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target.stat().st_size


async def backup(data_dir: Path, to: Path) -> int:
    """Copy the database to ``to`` with SQLite's online backup; returns the size in bytes.

    Consistent even while the server writes: the copy is one snapshot of committed data.
    ValueError when there is no database or ``to`` already exists.
    """
    source = _database(data_dir)
    return await asyncio.to_thread(_backup, source, Path(to))


def _read_requests(source: Path) -> list[Request]:
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT data FROM requests ORDER BY number").fetchall()
    finally:
        conn.close()
    return [Request.model_validate_json(data) for (data,) in rows]


def _cell(value: object) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def requests_csv(requests: list[Request]) -> str:
    """Requests as CSV (one row each, notes counted), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in requests:
        wire = r.to_wire()
        wire["notes"] = len(r.notes)
        writer.writerow([_cell(wire[c]) for c in EXPORT_COLUMNS])
    return out.getvalue()


async def export(data_dir: Path, fmt: Literal["csv", "json"]) -> str:
    """Every request, as CSV or as a JSON array of whole requests (notes included)."""
    if fmt not in ("csv", "json"):
        raise ValueError("format must be csv or json")
    requests = await asyncio.to_thread(_read_requests, _database(data_dir))
    if fmt == "json":
        return json.dumps([r.to_wire() for r in requests], ensure_ascii=False, indent=1) + "\n"
    return requests_csv(requests)
