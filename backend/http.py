"""Plain-HTTP GET routes on the WebSocket port, served from websockets' ``process_request``.

The routes are one table (``backend/routes.py``). ``/ws`` is checked here too: the bearer token
must be valid, or the upgrade is refused with 401 before any WebSocket exists; websockets checks
the Origin (``serve(origins=…)``, 403). Tokens are never accepted in the query string (they would
land in logs).

websockets' own router (``websockets.asyncio.router``) dispatches *WebSocket* connections by URL
(and needs werkzeug); these are plain HTTP answers given from ``process_request`` before any
upgrade, which it does not route, so the table stays here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from backend.accounts import Accounts, Identity
from backend.hub import Hub
from backend.lifecycle import Shutdown
from backend.metrics import Metrics
from backend.store import Store
from protocol.models import Role
from protocol.rules import Actor

log = logging.getLogger("frontdesk.http")

MAX_LOGIN_DELAY = 8.0


def respond(
    connection: ServerConnection,
    status: int,
    body: str | bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Response:
    """An HTTP response with the given body and content type."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    response = connection.respond(status, "")
    hdrs = Headers()
    for key, value in response.headers.raw_items():
        if key.lower() not in ("content-type", "content-length"):
            hdrs[key] = value
    hdrs["Content-Type"] = content_type
    hdrs["Content-Length"] = str(len(data))
    hdrs["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        hdrs[key] = value
    return Response(response.status_code, response.reason_phrase, hdrs, data)


def respond_json(
    connection: ServerConnection,
    status: int,
    value: Any,
    headers: dict[str, str] | None = None,
) -> Response:
    return respond(
        connection,
        status,
        json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        "application/json",
        headers,
    )


FORGET_AFTER = 15 * 60.0
"""Seconds without a failure after which a user's or an address's failures are forgotten."""


class LoginThrottle:
    """Slows down repeated failed sign-ins per user and per address (exponential, capped).

    The delay is an ``asyncio.sleep`` of the failing request only; everybody else is served.
    Failures wear off: a key with no failure for ``forget_after`` seconds starts from zero again,
    so a mistyped password in the morning does not slow down the evening's sign-in.
    """

    def __init__(
        self,
        base: float,
        forget_after: float = FORGET_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.forget_after = forget_after
        self.clock = clock
        self.failures: dict[str, tuple[int, float]] = {}
        """key → (failures in a row, time of the last one)."""

    def _count(self, key: str, now: float) -> int:
        count, last = self.failures.get(key, (0, 0.0))
        if count and now - last >= self.forget_after:
            del self.failures[key]
            return 0
        return count

    def delay(self, *keys: str) -> float:
        """Seconds the next attempt for these keys waits before it is checked."""
        now = self.clock()
        count = max((self._count(k, now) for k in keys), default=0)
        if count == 0:
            return 0.0
        return float(min(MAX_LOGIN_DELAY, self.base * 2 ** (count - 1)))

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self.failures[key] = (self._count(key, now) + 1, now)
        if len(self.failures) > 10_000:  # forget the worn-off, then the oldest: memory bounded
            for key in [k for k, (_, at) in self.failures.items() if now - at >= self.forget_after]:
                del self.failures[key]
            if len(self.failures) > 10_000:
                for key, _ in sorted(self.failures.items(), key=lambda kv: kv[1][1])[:5_000]:
                    del self.failures[key]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self.failures.pop(key, None)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic`` header, if well formed."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def peer_address(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"


Query = dict[str, list[str]]
Handler = Callable[[ServerConnection, HttpRequest, Query], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    """One GET endpoint: an exact path, or every path under a prefix (``prefix=True``)."""

    path: str
    handler: Handler
    prefix: bool = False


class Auth:
    """Who is calling, from the ``Authorization: Bearer`` header."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    async def identity(self, request: HttpRequest) -> Identity | None:
        token = bearer_token(request)
        return await self.accounts.check_token(token) if token else None

    async def require(
        self, connection: ServerConnection, request: HttpRequest, role: Role
    ) -> Identity | Response:
        """The caller's identity when it holds ``role`` or more; else a 401/403 response."""
        identity = await self.identity(request)
        if identity is None:
            return respond_json(
                connection,
                401,
                {"error": "a valid bearer token is needed"},
                {"WWW-Authenticate": "Bearer"},
            )
        if not Actor(identity.user, identity.role).at_least(role):
            return respond_json(connection, 403, {"error": f"needs the {role.value} role"})
        return identity


class HttpRouter:
    """``process_request``/``process_response`` for ``websockets.serve``: the GET routes of one
    table, and the checks on ``/ws`` before the upgrade.

    The bearer token is checked here (401); the ``Origin`` by websockets itself
    (``serve(origins=…)``), whose refusal ``process_response`` turns into the same JSON 403
    as every other refusal and logs.
    """

    def __init__(self, routes: Sequence[Route], auth: Auth, shutdown: Shutdown) -> None:
        self.exact = {r.path: r.handler for r in routes if not r.prefix}
        self.prefixed = [(r.path, r.handler) for r in routes if r.prefix]
        self.auth = auth
        self.shutdown = shutdown
        self._identities: weakref.WeakKeyDictionary[ServerConnection, Identity] = (
            weakref.WeakKeyDictionary()
        )

    def identity_of(self, connection: ServerConnection) -> Identity:
        """The identity ``/ws`` was opened with (checked before the upgrade)."""
        return self._identities.pop(connection)

    async def process_request(
        self, connection: ServerConnection, request: HttpRequest
    ) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if path == "/ws":
            return await self.upgrade(connection, request, query)
        route = self.exact.get(path)
        if route is None:
            route = next((h for prefix, h in self.prefixed if path.startswith(prefix)), None)
        if route is None:
            return respond_json(connection, 404, {"error": "not found"})
        try:
            return await route(connection, request, query)
        except Exception:
            log.exception("GET %s failed", path)
            return respond_json(connection, 500, {"error": "internal error"})

    def process_response(
        self, connection: ServerConnection, request: HttpRequest, response: Response
    ) -> Response | None:
        """websockets refused the Origin (403 on ``/ws``): log it, answer in JSON like the rest."""
        origin = request.headers.get("Origin")
        if response.status_code != 403 or origin is None or urlsplit(request.path).path != "/ws":
            return None
        log.warning(
            "event=refused reason=origin origin=%r addr=%s", origin[:100], peer_address(connection)
        )
        return respond_json(connection, 403, {"error": "origin not allowed"})

    async def upgrade(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response | None:
        """Refuse the WebSocket upgrade unless the bearer token is acceptable."""
        if "token" in query:
            return respond_json(
                connection, 401, {"error": "send the token in an Authorization: Bearer header"}
            )
        identity = await self.auth.identity(request)
        if identity is None:
            log.warning("event=refused reason=token addr=%s", peer_address(connection))
            return respond_json(
                connection,
                401,
                {"error": "missing, unknown, revoked or expired token"},
                {"WWW-Authenticate": "Bearer"},
            )
        if self.shutdown.started:
            return respond_json(connection, 503, {"error": "server is shutting down"})
        self._identities[connection] = identity
        return None


class ServiceRoutes:
    """Health, readiness, metrics and sign-in."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        metrics: Metrics,
        accounts: Accounts,
        throttle: LoginThrottle,
        shutdown: Shutdown,
    ) -> None:
        self.store = store
        self.hub = hub
        self.server_metrics = metrics
        self.accounts = accounts
        self.throttle = throttle
        self.shutdown = shutdown

    async def healthz(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        return respond(connection, 200, "ok\n")

    async def readyz(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        try:
            ready = await asyncio.wait_for(self.store.ping(), 2.0)
        except Exception:
            ready = False
        if ready and not self.shutdown.started:
            return respond(connection, 200, "ready\n")
        return respond(connection, 503, "not ready\n")

    async def metrics(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        metrics = self.server_metrics
        metrics.connections.set(len(self.hub.sessions))
        return respond(connection, 200, metrics.exposition(), CONTENT_TYPE_LATEST)

    async def token(
        self, connection: ServerConnection, request: HttpRequest, query: Query
    ) -> Response:
        """HTTP Basic in, a bearer token out; failures are slowed down per user and address."""
        challenge = {"WWW-Authenticate": 'Basic realm="frontdesk", charset="UTF-8"'}
        credentials = basic_credentials(request)
        if credentials is None:
            return respond_json(
                connection, 401, {"error": "send user and password with HTTP Basic"}, challenge
            )
        user, password = credentials
        keys = (f"user:{user[:64]}", f"addr:{peer_address(connection)}")
        delay = self.throttle.delay(*keys)
        if delay:
            await asyncio.sleep(delay)
        accounts = self.accounts
        role = await accounts.authenticate(user, password) if len(password) <= 1024 else None
        if role is None:
            self.throttle.failed(*keys)
            self.server_metrics.sign_ins.labels("failed").inc()
            log.warning(
                "event=sign-in outcome=failed user=%r addr=%s", user[:64], peer_address(connection)
            )
            return respond_json(
                connection, 401, {"error": "wrong user name or password"}, challenge
            )
        self.throttle.succeeded(*keys)
        self.server_metrics.sign_ins.labels("ok").inc()
        log.info("event=sign-in outcome=ok user=%s addr=%s", user, peer_address(connection))
        answer = await accounts.issue_token(user)
        return respond_json(connection, 200, answer)
