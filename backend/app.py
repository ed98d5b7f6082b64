"""``FrontdeskServer``: the composition root that opens the store and wires every part to it.

Nothing is half-made: ``start()`` opens the store first, then builds every part from it at once
(``_Parts``), each receiving only what it uses, and binds the port. Until then the server has
only its config; after ``close()`` the parts stay readable (tests inspect the final state).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Origin

from backend.accounts import Accounts
from backend.api import Api
from backend.config import ServerConfig
from backend.health import HEALTH_SAMPLE_SECONDS, HealthWatch
from backend.http import Auth, HttpRouter, LoginThrottle, ServiceRoutes
from backend.hub import Hub
from backend.jobs import (
    Job,
    SlaJob,
    check_tokens,
    compact_log,
    keepalive,
    prune_outcomes,
    start_jobs,
)
from backend.lifecycle import Shutdown
from backend.metrics import Metrics
from backend.presence import Presence
from backend.report_api import Reports
from backend.routes import route_table
from backend.session import Session, SessionLimits, SessionParts
from backend.shifts import parse_shifts, zone
from backend.staff_directory import StaffWatch
from backend.store import Store, open_store
from backend.websockets_adapter import FastPathConnection
from backend.writer import SystemSession, Writer
from protocol.frames import MAX_CLIENT_FRAME, CloseCode

log = logging.getLogger("frontdesk.server")
READ_QUEUE = (128, 64)
"""Frames websockets buffers per connection before it stops reading, and where it resumes.

The default (16, 4) paused and resumed reading every dozen frames of a pipelining client,
one epoll_ctl pair each time: ~8 % of the server's CPU under a create load. The lane is the
real backpressure; this only bounds what sits between the socket and the lane (at most
128 frames of 64 KiB, 8 MiB, against a client that fills its lane with maximal frames).
"""


@dataclass(frozen=True, slots=True)
class _Parts:
    """Everything a started server is made of, built together from its store."""

    store: Store
    accounts: Accounts
    metrics: Metrics
    hub: Hub
    writer: Writer
    presence: Presence
    sessions: SessionParts
    router: HttpRouter
    jobs: list[Job]
    staff: StaffWatch


def _build(config: ServerConfig, store: Store, shutdown: Shutdown) -> _Parts:
    """Wire every part to the opened store; each gets the few things it uses."""
    metrics = Metrics()
    hub = Hub(config.send_buffer_max, config.close_timeout)
    accounts = Accounts(store, config.token_ttl_hours)
    staff = StaffWatch(store, hub)
    accounts.changed = staff.refresh
    writer = Writer(store, hub, metrics, config.sla, config.batch_max, lambda: staff.directory)
    presence = Presence(hub, shutdown)
    auth = Auth(accounts)
    service = ServiceRoutes(
        store, hub, metrics, accounts, LoginThrottle(config.login_delay_base), shutdown
    )
    health = HealthWatch(hub, metrics, config.health)
    api = Api(store, hub, metrics, auth, health)
    sessions = SessionParts(
        hub=hub,
        writer=writer,
        store=store,
        metrics=metrics,
        limits=SessionLimits(
            chatter_rate=config.chatter_rate,
            chatter_burst=config.chatter_burst,
            catchup_page_size=config.catchup_page_size,
            snapshot_window_days=config.snapshot_window_days,
            snapshot_log_entries=config.snapshot_log_entries,
            queue_per_connection=config.queue_per_connection,
        ),
        presence_changed=presence.changed,
        welcome_fields=lambda: {
            "staff": staff.wire(),
            "sla": sla_wire,
            "alert_repeat_seconds": config.alert_repeat_seconds,
        },
    )
    sla_wire = config.sla.model_dump(mode="json")
    sla = SlaJob(
        store,
        writer,
        SystemSession(),
        escalate=config.escalate,
        repeat_seconds=config.alert_repeat_seconds,
    )
    jobs = [
        Job(
            "keepalive",
            config.ping_interval,
            partial(keepalive, hub, config.ping_interval, config.ping_timeout),
        ),
        Job("checkpoint", config.checkpoint_seconds, store.maintain),
        Job("follow", config.follow_seconds, store.follow),
        Job("tokens", config.token_check_seconds, partial(check_tokens, hub, accounts)),
        Job("sla", config.sla_check_seconds, sla.check_deadlines),
        # A repeat may ring up to a twentieth of its period late (30 s of 600 s): the scan of
        # the open requests' alerts then runs every 30 s, not every 2 s.
        Job(
            "bells",
            max(config.sla_check_seconds, min(30.0, config.alert_repeat_seconds / 20)),
            sla.ring_again,
        ),
        Job("staff", config.staff_check_seconds, staff.check),
        Job("health", HEALTH_SAMPLE_SECONDS, health.sample),
        Job(
            "compaction", config.cleanup_seconds, partial(compact_log, store, config.log_keep_days)
        ),
        Job(
            "outcomes",
            config.cleanup_seconds,
            partial(
                prune_outcomes, store, config.outcome_keep_days, config.outcome_keep_per_client
            ),
        ),
    ]
    reports = Reports(store, auth, parse_shifts(config.shifts), zone(config.shift_timezone))
    router = HttpRouter(route_table(service, api, reports), auth, shutdown)
    return _Parts(store, accounts, metrics, hub, writer, presence, sessions, router, jobs, staff)


class FrontdeskServer:
    """One frontdesk server process: ``await start()``, then ``serve_forever()`` or ``close()``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.shutdown = Shutdown()
        self.job_runs: Counter[str] = Counter()
        """How many times each background job has run (tests wait on it)."""
        self._parts: _Parts | None = None
        self._server: Server | None = None
        self._closed = asyncio.Event()
        self._jobs: list[asyncio.Task[None]] = []

    def _started(self) -> _Parts:
        if self._parts is None:
            raise RuntimeError("start() the server first")
        return self._parts

    @property
    def store(self) -> Store:
        return self._started().store

    @property
    def accounts(self) -> Accounts:
        return self._started().accounts

    @property
    def hub(self) -> Hub:
        return self._started().hub

    @property
    def metrics(self) -> Metrics:
        return self._started().metrics

    @property
    def writer(self) -> Writer:
        return self._started().writer

    @property
    def closing(self) -> bool:
        return self.shutdown.started

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when the config said 0)."""
        if self._server is None:
            raise RuntimeError("start() the server first")
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
        config = self.config
        store = await open_store(
            config.data_dir,
            config.database_url,
            synchronous=config.synchronous,
            background_checkpoint=True,
            pool_size=config.database_pool_size,
        )
        parts: _Parts | None = None
        try:
            parts = _build(config, store, self.shutdown)
            store.on_followed = parts.writer.deliver_followed
            await parts.staff.refresh()  # the directory assignees are checked against
            parts.writer.start()
            self._server = await serve(
                partial(self._handle, parts),
                config.host,
                config.port,
                process_request=parts.router.process_request,
                process_response=parts.router.process_response,
                origins=[None, *map(Origin, config.allowed_origins)],  # None: not a browser
                compression=None,
                max_size=MAX_CLIENT_FRAME,
                max_queue=READ_QUEUE,
                create_connection=FastPathConnection,
                ping_interval=None,  # one keepalive job pings everyone: no task per connection
                ping_timeout=None,
                close_timeout=config.close_timeout,
                server_header="frontdesk",
                ssl=self._tls_context(),
            )
        except BaseException:
            if parts is not None:
                await parts.writer.stop()
            await store.close()
            raise
        self._parts = parts
        self._jobs = start_jobs(parts.jobs, self.job_runs)
        if config.gc_tuning:
            tune_gc()
        log.info("frontdesk serving on %s (data in %s)", self.url, store.description)

    def _tls_context(self) -> ssl.SSLContext | None:
        """A server TLS context when a certificate and key are configured."""
        if self.config.tls_cert is None or self.config.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    async def run_job(self, name: str) -> None:
        """Run the background job ``name`` once now (besides its schedule), e.g. compaction."""
        (job,) = [job for job in self._started().jobs if job.name == name]
        await job.run()

    async def serve_forever(self) -> None:
        """Wait until ``close()`` has finished."""
        await self._closed.wait()

    async def close(self) -> None:
        """Stop accepting, finish the mutations already received, close connections with 1001."""
        if self.shutdown.started:
            await self._closed.wait()
            return
        self.shutdown.begin()
        for job in self._jobs:
            job.cancel()
        for job in self._jobs:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        parts, server = self._parts, self._server
        if server is not None:
            server.close(close_connections=False)
        if parts is not None:
            await parts.writer.stop()
        if server is not None and parts is not None:
            for session in list(parts.hub.sessions):
                parts.hub.close(session, CloseCode.GOING_AWAY, "server shutting down")
            server.close(close_connections=True)
            await server.wait_closed()
        if parts is not None:
            await parts.store.close()
        self._closed.set()
        log.info("frontdesk stopped")

    async def _handle(self, parts: _Parts, ws: ServerConnection) -> None:
        identity = parts.router.identity_of(ws)
        hub = parts.hub
        session = Session(parts.sessions, ws, identity)
        hub.limit_connections(identity.user, self.config.max_connections_per_user)
        hub.add(session)
        parts.metrics.connections.set(len(hub.sessions))
        try:
            await session.run()
        finally:
            hub.remove(session)
            parts.metrics.connections.set(len(hub.sessions))
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
            if session.client_id is not None and not self.shutdown.started:
                parts.presence.changed()


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
