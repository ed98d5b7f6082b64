"""Plain-HTTP GET routes on the WebSocket port, served from websockets' ``process_request``.

``/ws`` is checked here too: the bearer token must be valid and the Origin allowed, or the
upgrade is refused with 401/403 before any WebSocket exists. Tokens are never accepted in the
query string (they would land in logs).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from backend.accounts import Identity
from protocol.models import Role

if TYPE_CHECKING:
    from backend.app import FrontdeskServer

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


class LoginThrottle:
    """Slows down repeated failed sign-ins per user and per address (exponential, capped).

    The delay is an ``asyncio.sleep`` of the failing request only; everybody else is served.
    """

    def __init__(self, base: float) -> None:
        self.base = base
        self.failures: dict[str, tuple[int, float]] = {}

    def delay(self, *keys: str) -> float:
        count = max((self.failures.get(k, (0, 0.0))[0] for k in keys), default=0)
        if count == 0:
            return 0.0
        return min(MAX_LOGIN_DELAY, self.base * 2 ** (count - 1))

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            count, _ = self.failures.get(key, (0, 0.0))
            self.failures[key] = (count + 1, now)
        if len(self.failures) > 10_000:  # forget the oldest: memory stays bounded
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


Route = Callable[[ServerConnection, HttpRequest, dict[str, list[str]]], Awaitable[Response]]


class HttpRoutes:
    """The GET endpoints; ``process_request`` is passed to ``websockets.serve``."""

    def __init__(self, server: FrontdeskServer) -> None:
        self.server = server
        self.throttle = LoginThrottle(server.config.login_delay_base)
        self.routes: dict[str, Route] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/api/v1/token": self.token,
            "/metrics": self.metrics,
        }
        self.prefix_routes: list[tuple[str, Route]] = []

    async def process_request(
        self, connection: ServerConnection, request: HttpRequest
    ) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if path == "/ws":
            return await self.upgrade(connection, request, query)
        route = self.routes.get(path)
        if route is None:
            for prefix, handler in self.prefix_routes:
                if path.startswith(prefix):
                    route = handler
                    break
        if route is None:
            return respond_json(connection, 404, {"error": "not found"})
        try:
            return await route(connection, request, query)
        except Exception:
            log.exception("GET %s failed", path)
            return respond_json(connection, 500, {"error": "internal error"})

    async def upgrade(
        self, connection: ServerConnection, request: HttpRequest, query: dict[str, list[str]]
    ) -> Response | None:
        """Refuse the WebSocket upgrade unless Origin and bearer token are acceptable."""
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.server.config.allowed_origins:
            log.warning(
                "event=refused reason=origin origin=%r addr=%s",
                origin[:100],
                peer_address(connection),
            )
            return respond_json(connection, 403, {"error": "origin not allowed"})
        if "token" in query:
            return respond_json(
                connection, 401, {"error": "send the token in an Authorization: Bearer header"}
            )
        token = bearer_token(request)
        identity = await self.server.accounts.check_token(token) if token else None
        if identity is None:
            log.warning("event=refused reason=token addr=%s", peer_address(connection))
            return respond_json(
                connection,
                401,
                {"error": "missing, unknown, revoked or expired token"},
                {"WWW-Authenticate": "Bearer"},
            )
        if self.server.closing:
            return respond_json(connection, 503, {"error": "server is shutting down"})
        connection.identity = identity  # type: ignore[attr-defined]
        return None

    async def identity(self, request: HttpRequest) -> Identity | None:
        token = bearer_token(request)
        return await self.server.accounts.check_token(token) if token else None

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
        from protocol.rules import Actor

        if not Actor(identity.user, identity.role).at_least(role):
            return respond_json(connection, 403, {"error": f"needs the {role.value} role"})
        return identity

    # -- routes ----------------------------------------------------------------------------------

    async def healthz(self, connection, request, query) -> Response:  # type: ignore[no-untyped-def]
        return respond(connection, 200, "ok\n")

    async def readyz(self, connection, request, query) -> Response:  # type: ignore[no-untyped-def]
        store = self.server.store
        try:
            ready = store is not None and await asyncio.wait_for(store.ping(), 2.0)
        except Exception:
            ready = False
        if ready and not self.server.closing:
            return respond(connection, 200, "ready\n")
        return respond(connection, 503, "not ready\n")

    async def metrics(self, connection, request, query) -> Response:  # type: ignore[no-untyped-def]
        from prometheus_client import CONTENT_TYPE_LATEST

        self.server.metrics.connections.set(len(self.server.hub.sessions))
        return respond(connection, 200, self.server.metrics.exposition(), CONTENT_TYPE_LATEST)

    async def token(self, connection, request, query) -> Response:  # type: ignore[no-untyped-def]
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
        accounts = self.server.accounts
        role = await accounts.authenticate(user, password) if len(password) <= 1024 else None
        if role is None:
            self.throttle.failed(*keys)
            self.server.metrics.sign_ins.labels("failed").inc()
            log.warning(
                "event=sign-in outcome=failed user=%r addr=%s", user[:64], peer_address(connection)
            )
            return respond_json(
                connection, 401, {"error": "wrong user name or password"}, challenge
            )
        self.throttle.succeeded(*keys)
        self.server.metrics.sign_ins.labels("ok").inc()
        log.info("event=sign-in outcome=ok user=%s addr=%s", user, peer_address(connection))
        answer = await accounts.issue_token(user)
        return respond_json(connection, 200, answer)
