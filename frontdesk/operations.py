"""`frontdesk config show`, `backup` and `export`: operator commands on a data directory."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Literal, cast

from backend import ops
from backend.store import StoreUnavailable, redact
from frontdesk.errors import CliError
from frontdesk.serve import build_config

ExportFormat = Literal["csv", "json"]


def show_config(
    *, config_file: Path | None, data_dir: Path | None, database_url: str | None = None
) -> int:
    """Print the effective settings (defaults < TOML file < FRONTDESK_* < flags) as JSON; a
    password in the database URL is shown as ``***``."""
    config = build_config(config_file=config_file, data_dir=data_dir, database_url=database_url)
    values = config.model_dump(mode="json")
    if config.database_url:
        values["database_url"] = redact(config.database_url)
    print(json.dumps(values, indent=2, sort_keys=True))
    return 0


def backup_command(data_dir: Path | None, to: Path, database_url: str | None = None) -> int:
    """An online backup: a consistent copy even while the server writes."""
    config = build_config(data_dir=data_dir, database_url=database_url)
    try:
        size = asyncio.run(ops.backup(config.data_dir, to, config.database_url))
    except (ValueError, StoreUnavailable) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    print(f"frontdesk: backup written to {to} ({size:,} bytes)")
    return 0


def export_command(
    data_dir: Path | None, fmt: str, output: Path | None, database_url: str | None = None
) -> int:
    """Every request as CSV or JSON, to a file or stdout."""
    config = build_config(data_dir=data_dir, database_url=database_url)
    if fmt not in ("csv", "json"):
        raise CliError("format must be csv or json")
    try:
        text = asyncio.run(
            ops.export(config.data_dir, cast(ExportFormat, fmt), config.database_url)
        )
    except (ValueError, StoreUnavailable) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"frontdesk: exported to {output}", file=sys.stderr)
    return 0
