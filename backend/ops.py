"""Operator helpers the CLI calls with a data directory: online backup and export.

Both work while a server is running on the same directory (WAL lets readers and the writer
proceed together) and never change the live database.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Literal

from backend.sqlite_store import DB_NAME
from backend.store import open_store
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


async def backup(data_dir: Path | None, to: Path, database_url: str | None = None) -> int:
    """Copy the database to ``to``; returns the size in bytes.

    SQLite: the online backup API. PostgreSQL: ``pg_dump --format=custom`` (restore with
    ``pg_restore --dbname=URL FILE`` into an empty database). Either copy is one consistent
    snapshot of committed data, taken while the server writes. ValueError when there is no
    database, ``to`` already exists or the dump fails.
    """
    target = Path(to)
    if database_url:
        return await _pg_dump(database_url, target)
    source = _database(Path(data_dir or "."))
    return await asyncio.to_thread(_backup, source, target)


def postgres_tool(name: str) -> str:
    """The path of a PostgreSQL client program (``pg_dump``): on PATH, or Debian's newest
    ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ValueError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return str(versions[-1])


async def _pg_dump(database_url: str, target: Path) -> int:
    if await asyncio.to_thread(target.exists):
        raise ValueError(f"{target} already exists; not overwriting it")
    proc = await asyncio.create_subprocess_exec(
        postgres_tool("pg_dump"),
        "--format=custom",
        f"--file={target}",
        database_url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        lines = err.decode(errors="replace").strip().splitlines()
        raise ValueError(f"pg_dump failed: {lines[-1] if lines else proc.returncode}")
    return (await asyncio.to_thread(target.stat)).st_size


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


async def export(
    data_dir: Path | None, fmt: Literal["csv", "json"], database_url: str | None = None
) -> str:
    """Every request, as CSV or as a JSON array of whole requests (notes included)."""
    if fmt not in ("csv", "json"):
        raise ValueError("format must be csv or json")
    if not database_url:
        _database(Path(data_dir or "."))  # a missing database is an error, not a new one
    store = await open_store(data_dir, database_url, load_requests=False)
    try:
        requests = [Request.model_validate_json(data) for data in await store.all_requests()]
    finally:
        await store.close()
    if fmt == "json":
        return json.dumps([r.to_wire() for r in requests], ensure_ascii=False, indent=1) + "\n"
    return requests_csv(requests)


def require_database(data_dir: Path | None) -> None:
    """ValueError when ``data_dir`` holds no frontdesk database (reading must not create one)."""
    _database(Path(data_dir or "."))
