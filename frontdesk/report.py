"""``frontdesk report``: the handover report for a period or a shift, printed.

It reads the store directly (``--data-dir`` or ``--database-url``, like ``frontdesk export``),
so it works with the server down and needs no token; it computes exactly what
``GET /api/v1/report`` answers (``backend/report_api.py``). Shift boundaries and the hotel's time
zone come from the server's settings (``--config``, ``FRONTDESK_*``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from backend.ops import require_database
from backend.report import PeriodError
from backend.report_api import make_report, resolve_period
from backend.shifts import parse_shifts, zone
from backend.store import StoreUnavailable, open_store
from frontdesk.errors import CliError
from frontdesk.serve import build_config
from protocol.models import utcnow
from protocol.report import Report, to_csv, to_markdown

FORMATS = ("markdown", "csv", "json")


async def _report(
    data_dir: Path | None,
    database_url: str | None,
    since: str | None,
    until: str | None,
    shift: str | None,
    shifts: dict[str, str],
    timezone: str | None,
) -> Report:
    now = utcnow()
    start, end, name = resolve_period(
        since=since,
        until=until,
        shift=shift,
        shifts=parse_shifts(shifts),
        where=zone(timezone),
        now=now,
        naive_is_local=True,
    )
    if not database_url:
        require_database(data_dir)
    store = await open_store(data_dir, database_url, load_requests=False)
    try:
        return await make_report(store, start, end, now, name)
    finally:
        await store.close()


def report_command(
    *,
    data_dir: Path | None,
    database_url: str | None,
    config_file: Path | None,
    since: str | None,
    until: str | None,
    shift: str | None,
    fmt: str,
    output: Path | None,
) -> int:
    """Print (or write to ``output``) the report as Markdown, CSV or JSON."""
    if fmt not in FORMATS:
        raise CliError(f"format must be one of {', '.join(FORMATS)}")
    config = build_config(data_dir=data_dir, database_url=database_url, config_file=config_file)
    try:
        report = asyncio.run(
            _report(
                config.data_dir,
                config.database_url,
                since,
                until,
                shift,
                config.shifts,
                config.shift_timezone,
            )
        )
    except (PeriodError, ValueError, StoreUnavailable) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    if fmt == "json":
        text = report.model_dump_json(indent=1) + "\n"
    elif fmt == "csv":
        text = to_csv(report)
    else:
        text = to_markdown(report, zone(config.shift_timezone))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"frontdesk: report written to {output}", file=sys.stderr)
    return 0
