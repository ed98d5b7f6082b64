"""Read-only HTTP calls the dashboards need: server stats, a request's history, and lookups of
requests older than the replica keeps (``/api/v1/requests``).

Plain GETs with the engine's bearer token (httpx, like ``offline.session``), behind
``Engine.fetch_stats`` and ``Engine.fetch_history`` so the TUI does no network I/O of its own.
They never write and never open a WebSocket. Each answers a value or raises ``ServerApiError``
with one readable line, so a panel can say "stale" instead of freezing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import ValidationError

from offline.errors import ServerApiError
from protocol.report import Report

TIMEOUT = 3.0


async def get_json(
    server_url: str, token: str | None, path: str, *, missing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``GET path`` with the bearer token; the JSON object the server answered (``missing``,
    when given, for a 404)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = server_url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ServerApiError(f"cannot reach the server: {exc.__class__.__name__}") from None
    if response.status_code == 404 and missing is not None:
        return missing
    if response.status_code != 200:
        try:
            why = response.json().get("error", "")
        except ValueError:
            why = ""
        raise ServerApiError(f"server answered HTTP {response.status_code} {why}".strip())
    try:
        body = response.json()
    except ValueError:
        raise ServerApiError("server answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise ServerApiError("server answered an unexpected shape")
    return body


async def fetch_requests(
    server_url: str, token: str | None, filters: dict[str, str]
) -> tuple[list[dict[str, Any]], bool]:
    """``/api/v1/requests`` with ``filters`` (room, number, guest, limit): the rows' JSON
    objects, and whether the server has more."""
    body = await get_json(server_url, token, "/api/v1/requests?" + urlencode(filters))
    rows = body.get("requests")
    if not isinstance(rows, list):
        raise ServerApiError("server answered an unexpected shape")
    return rows, body.get("next_cursor") is not None


async def fetch_stats(
    server_url: str, token: str | None, client_id: str | None = None
) -> dict[str, Any]:
    """``/api/v1/stats`` (managers only): throughput, latencies, connections, cache hit rate,
    the last hour minute by minute (with ``client_id``: that terminal's round trip too) and the
    health verdicts."""
    query = "?" + urlencode({"client_id": client_id}) if client_id else ""
    return await get_json(server_url, token, "/api/v1/stats" + query)


async def fetch_history(
    server_url: str, token: str | None, request_id: str
) -> list[dict[str, Any]]:
    """``/api/v1/requests/<id>/history``: every kept change of one request, oldest first; empty
    for a request the server does not have (yet: its creation may still be pending)."""
    path = f"/api/v1/requests/{quote(request_id, safe='')}/history"
    body = await get_json(server_url, token, path, missing={})
    history = body.get("history")
    return history if isinstance(history, list) else []


async def fetch_report(
    server_url: str,
    token: str | None,
    *,
    shift: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """``/api/v1/report`` (managers only) for a shift (``last``, ``current``, ``night``, …) or
    a period; the server's 400 reason comes back as the ``ServerApiError``'s line."""
    params: dict[str, str] = {}
    if shift:
        params["shift"] = shift
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    body = await get_json(server_url, token, "/api/v1/report?" + urlencode(params))
    try:
        return Report.model_validate(body)
    except ValidationError:
        raise ServerApiError("server answered a report of an unexpected shape") from None
