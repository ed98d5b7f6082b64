"""`frontdesk config show`, `backup` and `export`: operator commands on a data directory."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Literal

from backend import ops
from frontdesk.errors import CliError
from frontdesk.serve import build_config


def show_config(*, config_file: Path | None, data_dir: Path | None) -> int:
    """Print the effective settings (defaults < TOML file < FRONTDESK_* < flags) as JSON."""
    config = build_config(config_file=config_file, data_dir=data_dir)
    print(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True))
    return 0


def _data_dir(data_dir: Path | None) -> Path:
    return build_config(data_dir=data_dir).data_dir


def backup_command(data_dir: Path | None, to: Path) -> int:
    """An online backup: a consistent copy even while the server writes."""
    try:
        size = asyncio.run(ops.backup(_data_dir(data_dir), to))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"frontdesk: backup written to {to} ({size:,} bytes)")
    return 0


def export_command(data_dir: Path | None, fmt: Literal["csv", "json"], output: Path | None) -> int:
    """Every request as CSV or JSON, to a file or stdout."""
    try:
        text = asyncio.run(ops.export(_data_dir(data_dir), fmt))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"frontdesk: exported to {output}", file=sys.stderr)
    return 0
