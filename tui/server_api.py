"""Read-only HTTP calls the dashboards make: server stats and a request's history.

These are plain GETs with the session's bearer token (httpx, like ``offline.session``); they
never write and never open a WebSocket. Each answers a value or raises ``ServerApiError`` with
one readable line, so a panel can say "stale" instead of freezing.
"""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = 3.0


class ServerApiError(Exception):
    """The server could not be asked, or said no; the message says why in one line."""


async def get_json(server_url: str, token: str | None, path: str) -> dict[str, Any]:
    """``GET path`` with the bearer token; the JSON object the server answered."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = server_url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ServerApiError(f"cannot reach the server: {exc.__class__.__name__}") from None
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


async def fetch_stats(server_url: str, token: str | None) -> dict[str, Any]:
    """``/api/v1/stats`` (managers only): throughput, latencies, connections, cache hit rate."""
    return await get_json(server_url, token, "/api/v1/stats")


async def fetch_history(server_url: str, token: str | None, request_id: str) -> list[dict]:
    """``/api/v1/requests/<id>/history``: every kept change of one request, oldest first."""
    body = await get_json(server_url, token, f"/api/v1/requests/{request_id}/history")
    history = body.get("history")
    return history if isinstance(history, list) else []
