"""``FrontdeskServer``: the store, the writer, the hub and the WebSocket listener, together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import time
from collections import Counter

from websockets.asyncio.server import Server, ServerConnection, serve

from backend.accounts import Accounts, Identity
from backend.api import Api
from backend.config import ServerConfig
from backend.connection import FrontdeskConnection
from backend.http import HttpRoutes
from backend.hub import Hub
from backend.metrics import Metrics
from backend.session import Session
from backend.store import Store, open_store
from backend.writer import SystemSession, Writer
from protocol.frames import MAX_CLIENT_FRAME, CloseCode
from protocol.wire import dumps

log = logging.getLogger("frontdesk.server")

READ_QUEUE = (128, 64)
"""Frames websockets buffers per connection before it stops reading, and where it resumes.

The default (16, 4) paused and resumed reading every dozen frames of a pipelining client,
one epoll_ctl pair each time: ~8 % of the server's CPU under a create load. The lane is the
real backpressure; this only bounds what sits between the socket and the lane (at most
128 frames of 64 KiB, 8 MiB, against a client that fills its lane with maximal frames).
"""


class FrontdeskServer:
    """One frontdesk server process: ``await start()``, then ``serve_forever()`` or ``close()``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.hub = Hub(config.send_buffer_max, config.close_timeout)
        self.http = HttpRoutes(self)
        Api(self).register()
        self.store: Store = None  # type: ignore[assignment]
        self.accounts: Accounts = None  # type: ignore[assignment]
        self.writer: Writer = None  # type: ignore[assignment]
        self.closing = False
        self._server: Server | None = None
        self._closed = asyncio.Event()
        self._jobs: list[asyncio.Task[None]] = []
        self._presence_pending = False
        self.job_runs: Counter[str] = Counter()
        """How many times each background job has run (tests wait on it)."""
        self.system = SystemSession()
        """The actor of the server's own mutations (SLA escalation)."""

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when the config said 0)."""
        assert self._server is not None, "start() first"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of this server (the WebSocket is at ``ws://HOST:PORT/ws``)."""
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.config.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Open the store and bind the port; raises OSError when the port cannot be bound."""
        self.store = await open_store(
            self.config.data_dir,
            self.config.database_url,
            synchronous=self.config.synchronous,
            background_checkpoint=True,
            pool_size=self.config.database_pool_size,
        )
        try:
            self.accounts = Accounts(self.store, self.config.token_ttl_hours)
            self.writer = Writer(
                self.store, self.hub, self.metrics, self.config.sla, self.config.batch_max
            )
            self.store.on_followed = self.writer.deliver_followed
            self.writer.start()
            self._server = await serve(
                self._handle,
                self.config.host,
                self.config.port,
                process_request=self.http.process_request,
                compression=None,
                max_size=MAX_CLIENT_FRAME,
                max_queue=READ_QUEUE,
                create_connection=FrontdeskConnection,
                ping_interval=None,  # one keepalive job pings everyone: no task per connection
                ping_timeout=None,
                close_timeout=self.config.close_timeout,
                server_header="frontdesk",
                ssl=self._tls_context(),
            )
        except BaseException:
            if self.writer is not None:
                await self.writer.stop()
            await self.store.close()
            raise
        self._start_jobs()
        if self.config.gc_tuning:
            tune_gc()
        log.info("frontdesk serving on %s (data in %s)", self.url, self.store.description)

    def _tls_context(self) -> ssl.SSLContext | None:
        """A server TLS context when a certificate and key are configured."""
        if self.config.tls_cert is None or self.config.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    def _start_jobs(self) -> None:
        from backend.jobs import start_jobs

        self._jobs = start_jobs(self)

    async def serve_forever(self) -> None:
        """Wait until ``close()`` has finished."""
        await self._closed.wait()

    async def close(self) -> None:
        """Stop accepting, finish the mutations already received, close connections with 1001."""
        if self.closing:
            await self._closed.wait()
            return
        self.closing = True
        for job in self._jobs:
            job.cancel()
        for job in self._jobs:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        if self._server is not None:
            self._server.close(close_connections=False)
        if self.writer is not None:
            await self.writer.stop()
        if self._server is not None:
            for session in list(self.hub.sessions):
                self.hub.close(session, CloseCode.GOING_AWAY, "server shutting down")
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        if self.store is not None:
            await self.store.close()
        self._closed.set()
        log.info("frontdesk stopped")

    async def _handle(self, ws: ServerConnection) -> None:
        identity: Identity = ws.identity  # type: ignore[attr-defined]
        session = Session(self, ws, identity)
        self._limit_connections(identity.user)
        self.hub.add(session)
        self.metrics.connections.set(len(self.hub.sessions))
        try:
            await session.run()
        finally:
            self.hub.remove(session)
            self.metrics.connections.set(len(self.hub.sessions))
            # One line per connection, when it ends: who, from where, which terminal, where
            # its catch-up started, how it ended and after how long.
            log.info(
                "event=connection user=%s addr=%s client=%r last_seq=%s code=%s closed_by=%s"
                " reason=%r seconds=%.1f",
                identity.user,
                _addr(ws),
                session.client_id,
                session.hello_seq,
                ws.close_code,
                "server" if session.close_reason is not None else "client",
                session.close_reason or ws.close_reason or "",
                time.monotonic() - session.opened_at,
            )
            if session.client_id is not None and not self.closing:
                self.broadcast_presence()

    def _limit_connections(self, user: str) -> None:
        """A user past ``max_connections_per_user`` loses their oldest connection (4429)."""
        mine = sorted(
            (s for s in self.hub.sessions if s.user == user and not s.closing),
            key=lambda s: s.opened_at,
        )
        excess = len(mine) + 1 - self.config.max_connections_per_user
        for session in mine[: max(0, excess)]:
            self.hub.close(
                session, CloseCode.TOO_MANY_CONNECTIONS, "too many connections; this was the oldest"
            )

    def broadcast_presence(self) -> None:
        """Tell every connection who is online and what each is viewing or editing.

        Coalesced over 50 ms, so a burst of connects or updates costs one frame per connection.
        """
        if self._presence_pending:
            return
        self._presence_pending = True
        asyncio.get_running_loop().call_later(0.05, self._send_presence)

    def _send_presence(self) -> None:
        self._presence_pending = False
        if self.closing:
            return
        latest: dict[str, Session] = {}
        for s in self.hub.sessions:
            if s.client_id is None or s.closing:
                continue
            seen = latest.get(s.user)
            if seen is None or s.presence_at >= seen.presence_at:
                latest[s.user] = s
        users = [
            {"user": s.user, "role": s.role.value, "viewing": s.viewing, "editing": s.editing}
            for s in sorted(latest.values(), key=lambda s: s.user)
        ]
        self.hub.send_all(dumps({"type": "presence", "users": users}))


def _addr(ws: ServerConnection) -> str:
    address = ws.remote_address
    return str(address[0]) if address else "?"


def tune_gc() -> None:
    """Keep the garbage collector off the hot path of a long-running server.

    Everything alive after start-up (modules, the in-memory requests) is frozen out of future
    collections, and the youngest generation is collected every 10,000 allocations instead of
    700: each group commit allocates thousands of short-lived objects, and measured under load
    collections took about 15 % of the server's CPU.
    """
    gc.freeze()
    threshold0, threshold1, threshold2 = gc.get_threshold()
    if threshold0 < 10_000:
        gc.set_threshold(10_000, threshold1, threshold2)
