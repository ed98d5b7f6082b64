"""``GET /api/v1/report``: the handover report for a period or a shift, for managers.

``?since=…&until=…`` (ISO 8601 with a zone) or ``?shift=night`` (a configured shift's latest
start, ``current`` or ``last``). A bad period is a 400 whose ``error`` says why. The same period
rules and the same computation serve ``frontdesk report``, which reads the store directly.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from backend.http import Auth, Query, respond, respond_json
from backend.report import PeriodError, build_report, check_period, parse_time, rows_from_json
from backend.shifts import Shift, resolve
from backend.store import Store
from protocol.models import Role, utcnow
from protocol.report import Report


def resolve_period(
    *,
    since: str | None,
    until: str | None,
    shift: str | None,
    shifts: list[Shift],
    where: tzinfo | None,
    now: datetime,
    naive_is_local: bool = False,
) -> tuple[datetime, datetime, str | None]:
    """(since, until, shift name) from what a person asked for; ``PeriodError`` with the
    reason when the period cannot be reported on. ``until`` defaults to now."""
    if shift:
        if since or until:
            raise PeriodError("give a shift, or since and until, not both")
        try:
            name, start, end = resolve(shift, shifts, now, where)
        except ValueError as exc:
            raise PeriodError(str(exc)) from None
        return start, end, name
    if not since:
        raise PeriodError("give since (and until), or a shift")
    start = parse_time(since, "since", naive_is_local)
    end = parse_time(until, "until", naive_is_local) if until else now
    check_period(start, end)
    return start, end, None


async def make_report(
    store: Store, since: datetime, until: datetime, now: datetime, shift: str | None = None
) -> Report:
    """Read the rows the period needs and compute its report (off the event loop: a long
    period can hold many rows)."""
    data = await store.report_rows(since.timestamp())

    def compute() -> Report:
        return build_report(rows_from_json(data), since, until, now, shift)

    return await asyncio.to_thread(compute)


class Reports:
    """The report route (listed in ``backend/routes.py``)."""

    def __init__(self, store: Store, auth: Auth, shifts: list[Shift], where: tzinfo | None):
        self.store = store
        self.auth = auth
        self.shifts = shifts
        self.where = where

    async def report(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        who = await self.auth.require(connection, request, Role.MANAGER)
        if isinstance(who, Response):
            return who
        now = utcnow()

        def one(key: str) -> str | None:
            values = query.get(key)
            return values[0] if values else None

        try:
            since, until, shift = resolve_period(
                since=one("since"),
                until=one("until"),
                shift=one("shift"),
                shifts=self.shifts,
                where=self.where,
                now=now,
            )
        except PeriodError as exc:
            return respond_json(connection, 400, {"error": str(exc)})
        report = await make_report(self.store, since, until, now, shift)
        return respond(connection, 200, report.model_dump_json(), "application/json")
