"""Every HTTP endpoint of the server, in one table (``/ws`` is the WebSocket upgrade)."""

from __future__ import annotations

from backend.api import Api
from backend.http import Route, ServiceRoutes
from backend.report_api import Reports


def route_table(service: ServiceRoutes, api: Api, reports: Reports) -> tuple[Route, ...]:
    """The GET routes: exact paths, then the prefixed ones (first match wins)."""
    return (
        Route("/healthz", service.healthz),
        Route("/readyz", service.readyz),
        Route("/metrics", service.metrics),
        Route("/api/v1/token", service.token),
        Route("/api/v1/stats", api.stats),
        Route("/api/v1/requests", api.requests),
        Route("/api/v1/report", reports.report),
        Route("/api/v1/requests/", api.history, prefix=True),
    )
