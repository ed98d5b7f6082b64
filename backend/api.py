"""Read-only JSON endpoints: ``/api/v1/stats``, ``/api/v1/requests`` and a request's history.

The stats come from the open requests in memory (urgent, overdue), the store's counts of every
request, and the requests updated in the last 24 hours (times to acknowledge and complete),
cached per change-log head (for at most ``STATS_MAX_AGE`` seconds, since "overdue" moves with
the clock), so repeated reads between changes cost nothing; live figures (connections, rates,
latencies) are added on every read. The counts over the whole history (one indexed scan of
every request) are cached for ``COUNTS_MAX_AGE`` seconds whatever the head does.

``/api/v1/requests`` reads the store (filters and cursor pagination): it is how a terminal
looks up a request older than its replica keeps, by room, ticket number or guest name.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from backend.health import HealthWatch
from backend.http import Auth, Query, respond, respond_json
from backend.hub import Hub
from backend.metrics import Metrics, percentile
from backend.store import RequestFilter, Store
from protocol.frames import MAX_INT
from protocol.models import Category, Priority, Request, Role, Status, utcnow

STATS_MAX_AGE = 5.0
COUNTS_MAX_AGE = 60.0
LIST_DEFAULT = 100
LIST_MAX = 1000


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _durations(values: list[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "median_s": percentile(values, 0.5),
        "p90_s": percentile(values, 0.9),
    }


def compute_stats(
    counts: list[tuple[str, str, str, int]],
    open_rows: list[Request],
    recent: list[Request],
    now: datetime,
) -> dict[str, Any]:
    """The figures derived from the requests themselves (the cached part): ``counts`` of every
    request by (status, category, priority), the open rows, the rows updated in 24 hours."""
    by_status: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_priority: Counter[str] = Counter()
    for status, category, priority, count in counts:
        by_status[status] += count
        by_category[category] += count
        by_priority[priority] += count
    since = now - timedelta(hours=24)
    to_ack: dict[str, list[float]] = defaultdict(list)
    to_complete: dict[str, list[float]] = defaultdict(list)
    for r in recent:
        if r.acknowledged_at is not None and r.acknowledged_at >= since:
            to_ack[r.category.value].append((r.acknowledged_at - r.created_at).total_seconds())
        if r.completed_at is not None and r.completed_at >= since:
            to_complete[r.category.value].append((r.completed_at - r.created_at).total_seconds())
    return {
        "total": sum(by_status.values()),
        "by_status": {s.value: by_status.get(s.value, 0) for s in Status},
        "by_category": {c.value: by_category.get(c.value, 0) for c in Category},
        "by_priority": {p.value: by_priority.get(p.value, 0) for p in Priority},
        "open_urgent": sum(1 for r in open_rows if r.priority == Priority.URGENT),
        "overdue": sum(1 for r in open_rows if r.is_overdue(now)),
        "time_to_acknowledge_24h": {c.value: _durations(to_ack[c.value]) for c in Category},
        "time_to_complete_24h": {c.value: _durations(to_complete[c.value]) for c in Category},
    }


class Api:
    """The JSON routes (listed in ``backend/routes.py``)."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        metrics: Metrics,
        auth: Auth,
        health: HealthWatch | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.metrics = metrics
        self.auth = auth
        self.health = health
        self._stats_key: int | None = None
        self._stats_at = 0.0
        self._stats: dict[str, Any] = {}
        self._counts: list[tuple[str, str, str, int]] = []
        self._counts_at = -COUNTS_MAX_AGE

    async def stats(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        who = await self.auth.require(connection, request, Role.MANAGER)
        if isinstance(who, Response):
            return who
        metrics = self.metrics
        head = self.store.state.head_seq
        fresh = time.monotonic() - self._stats_at < STATS_MAX_AGE
        if self._stats_key == head and fresh:
            metrics.stats_hits += 1
        else:
            metrics.stats_misses += 1
            self._stats = await self._compute_stats()
            self._stats_key = head
            self._stats_at = time.monotonic()
        commits = list(metrics.recent_commits)
        fanouts = list(metrics.recent_fanouts)
        reads = metrics.stats_hits + metrics.stats_misses
        body = {
            **self._stats,
            "seq": head,
            "connections": len(self.hub.sessions),
            "mutations_per_s": round(metrics.mutations_per_second(), 2),
            "commit_ms": {
                "p50": _ms(percentile(commits, 0.5)),
                "p99": _ms(percentile(commits, 0.99)),
            },
            "fanout_ms": {
                "p50": _ms(percentile(fanouts, 0.5)),
                "p99": _ms(percentile(fanouts, 0.99)),
            },
            "cache_hit_rate": round(metrics.stats_hits / reads, 3) if reads else None,
            "server_time": utcnow().isoformat().replace("+00:00", "Z"),
            "history": metrics.minutes.wire(query.get("client_id", [None])[0]),
            "health": self.health.wire() if self.health is not None else [],
        }
        return respond_json(connection, 200, body)

    async def _compute_stats(self) -> dict[str, Any]:
        store = self.store
        now = utcnow()
        if time.monotonic() - self._counts_at >= COUNTS_MAX_AGE:
            self._counts = await store.request_counts()
            self._counts_at = time.monotonic()
        day_ago = (now - timedelta(hours=24)).timestamp()
        recent = [Request.model_validate_json(d) for d in await store.updated_since(day_ago)]
        return compute_stats(self._counts, store.state.requests.open_rows(), recent, now)

    async def requests(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        """Requests ordered by ticket number, filtered, one page at a time (``cursor``)."""
        who = await self.auth.require(connection, request, Role.STAFF)
        if isinstance(who, Response):
            return who
        filters: dict[str, list[str]] = {}
        try:
            for key, allowed in (
                ("status", {s.value for s in Status}),
                ("priority", {p.value for p in Priority}),
                ("category", {c.value for c in Category}),
                ("room", None),
                ("assignee", None),
            ):
                values = [v for raw in query.get(key, []) for v in raw.split(",") if v]
                if allowed is not None and not set(values) <= allowed:
                    raise ValueError(f"{key} must be among {', '.join(sorted(allowed))}")
                filters[key] = values
            numbers = [int(v) for raw in query.get("number", []) for v in raw.split(",") if v]
            if len(numbers) > LIST_MAX or not all(0 < n <= MAX_INT for n in numbers):
                raise ValueError("number must be a ticket number")
            guest = query.get("guest", [""])[0].strip()[:200] or None
            updated_since = None
            if since := query.get("since", [""])[0]:
                moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    raise ValueError("since needs a time zone (e.g. 2026-01-01T00:00:00Z)")
                updated_since = moment.timestamp()
            cursor = int(query.get("cursor", ["0"])[0] or 0)
            if not 0 <= cursor <= MAX_INT:
                raise ValueError("cursor must be a next_cursor this endpoint gave")
            limit = int(query.get("limit", [str(LIST_DEFAULT)])[0])
            if not 1 <= limit <= LIST_MAX:
                raise ValueError(f"limit must be 1-{LIST_MAX}")
        except ValueError as exc:
            return respond_json(connection, 400, {"error": str(exc)})
        where = RequestFilter(**filters, updated_since=updated_since, number=numbers, guest=guest)
        rows = await self.store.list_requests(where, cursor, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = f'"{rows[-1][0]}"' if more and rows else "null"
        body = f'{{"requests":[{",".join(r[1] for r in rows)}],"next_cursor":{next_cursor}}}'
        return respond(connection, 200, body, "application/json")

    async def history(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        """``/api/v1/requests/<id>/history``: every kept change of one request, oldest first."""
        path = request.path.split("?", 1)[0]
        rest = path.removeprefix("/api/v1/requests/")
        rid, _, tail = rest.partition("/")
        if tail != "history" or not rid:
            return respond_json(connection, 404, {"error": "not found"})
        who = await self.auth.require(connection, request, Role.STAFF)
        if isinstance(who, Response):
            return who
        entries = await self.store.history(rid)
        if not entries and not await self.store.read_rows([rid]):
            return respond_json(connection, 404, {"error": f"no request {rid}"})
        return respond_json(connection, 200, {"id": rid, "history": entries})
