"""Background jobs of a running server: token expiry/revocation checks, SLA alerts, clean-up.

Each job is one asyncio task looping on its own period; ``start_jobs`` starts them and the server
cancels them on close. A job that fails logs and tries again next period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from backend.writer import alert_frame
from protocol.frames import CloseCode
from protocol.models import PRIORITY_RANK, Priority, utcnow

if TYPE_CHECKING:
    from backend.app import FrontdeskServer

log = logging.getLogger("frontdesk.jobs")

PING_BACKLOG = 16 * 1024
"""Bytes waiting to be written above which a connection is not pinged (ping would block)."""


def start_jobs(server: FrontdeskServer) -> list[asyncio.Task[None]]:
    """Start every periodic job of ``server``."""
    config = server.config
    loop = asyncio.get_running_loop()
    jobs: list[tuple[str, float, Callable[[FrontdeskServer], Awaitable[None]]]] = [
        ("keepalive", config.ping_interval, keepalive),
        ("checkpoint", config.checkpoint_seconds, checkpoint),
        ("follow", config.follow_seconds, follow),
        ("tokens", config.token_check_seconds, check_tokens),
        ("sla", config.sla_check_seconds, check_sla),
        ("compaction", config.cleanup_seconds, compact_log),
        ("outcomes", config.cleanup_seconds, prune_outcomes),
    ]
    return [
        loop.create_task(_every(server, name, period, job), name=f"frontdesk-job-{name}")
        for name, period, job in jobs
    ]


async def _every(
    server: FrontdeskServer,
    name: str,
    period: float,
    job: Callable[[FrontdeskServer], Awaitable[None]],
) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await job(server)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event=job job=%s outcome=failed retry_s=%.0f", name, period)
        server.job_runs[name] += 1
        log.debug("event=job job=%s", name)


async def check_tokens(server: FrontdeskServer) -> None:
    """Close connections whose token expired or was revoked (4401); refresh roles of the rest."""
    for session in list(server.hub.sessions):
        if session.closing:
            continue
        identity = await server.accounts.check_hash(session.identity.token_hash)
        if identity is None:
            server.hub.close(session, CloseCode.UNAUTHORIZED, "token expired or revoked")
        else:
            session.identity = identity


async def check_sla(server: FrontdeskServer) -> None:
    """Alert once per breach when an open request passes ``due_at``; escalate if configured.

    A breach is identified by (request id, due_at) and remembered in ``alerts_sent`` before the
    alert goes out, so it never fires twice, across restarts too. Escalation raises the priority
    one step with a fresh deadline from now (a server mutation, logged and broadcast like any).
    """
    store = server.store
    state = store.state
    now = utcnow()
    stamp = now.timestamp()
    due = state.deadlines.take_due(stamp)  # only the requests whose deadline came up
    breached = [
        row
        for rid in due
        if (row := state.requests.get(rid)) is not None
        and row.is_overdue(now)
        and (row.id, row.due_at.timestamp()) not in state.breaches
    ]
    if not breached:
        return
    try:
        first = await store.record_breaches([(r.id, r.due_at.timestamp()) for r in breached], stamp)
    except BaseException:
        state.deadlines.put_back(due)  # the next run tries them again
        raise
    for row in breached:
        server.metrics.alerts.labels("sla_breach").inc()
        server.hub.publish_alert(alert_frame("sla_breach", row))
    log.info("event=job job=sla breaches=%d", len(breached))
    # Every instance rings its own terminals' bell; only the one that recorded a breach first
    # escalates it, so a request is raised one step once, however many instances run.
    mine = set(first)
    breached = [row for row in breached if (row.id, row.due_at.timestamp()) in mine]
    if not server.config.escalate:
        return
    for row in breached:
        rank = PRIORITY_RANK[row.priority]
        if rank >= PRIORITY_RANK[Priority.URGENT]:
            continue
        raised = next(p for p, r in PRIORITY_RANK.items() if r == rank + 1)
        due = now + timedelta(minutes=server.config.sla.minutes(row.category, raised))
        server.writer.submit_system(
            server.system,
            "update_request",
            {"id": row.id, "changes": {"priority": raised.value, "due_at": due.isoformat()}},
        )


async def compact_log(server: FrontdeskServer) -> None:
    """Drop change-log entries older than ``log_keep_days``; older clients get a snapshot."""
    cutoff = time.time() - server.config.log_keep_days * 86400
    through = await server.store.compact_log(cutoff)
    if through is not None:
        log.info("event=job job=compaction through_seq=%d", through)


async def prune_outcomes(server: FrontdeskServer) -> None:
    """Forget stored mutation outcomes both older than the keep time and not among the latest
    ``outcome_keep_per_client`` numbers of their client. A resend of a forgotten one gets
    ``reject`` with code ``duplicate``."""
    config = server.config
    cutoff = time.time() - config.outcome_keep_days * 86400
    removed = await server.store.prune_outcomes(cutoff, config.outcome_keep_per_client)
    if removed:
        log.info("event=job job=outcomes pruned=%d", removed)


async def keepalive(server: FrontdeskServer) -> None:
    """Ping every connection; drop the ones whose last ping went unanswered too long.

    One job for all connections instead of websockets' keepalive task per connection keeps an
    idle connection about a kilobyte smaller. A connection whose write buffer is backed up is
    not pinged (``ping()`` would wait for it to drain, holding up everybody after it); if it
    stays backed up past a ping interval plus the timeout, it is dropped as stuck.
    """
    now = time.monotonic()
    config = server.config
    for session in list(server.hub.sessions):
        if session.closing:
            continue
        transport = session.ws.transport
        waiter = session.ping_waiter
        unanswered = waiter is not None and not waiter.done()  # type: ignore[attr-defined]
        backed_up = transport is not None and transport.get_write_buffer_size() > PING_BACKLOG
        if session.ping_sent == 0.0:
            session.ping_sent = now  # first round: start the clock
        late = now - session.ping_sent > (
            config.ping_timeout if unanswered else config.ping_interval + config.ping_timeout
        )
        if (unanswered or backed_up) and late:
            session.close_reason = "no pong"
            session.closing = True
            if transport is not None:
                transport.abort()
            continue
        if unanswered or backed_up:
            continue
        try:
            session.ping_waiter = await session.ws.ping()
            session.ping_sent = now
        except Exception:  # closing or closed: the handler cleans up
            continue


async def checkpoint(server: FrontdeskServer) -> None:
    """The store's housekeeping off the commit path (SQLite moves its WAL into the file)."""
    await server.store.maintain()


async def follow(server: FrontdeskServer) -> None:
    """Read what other instances committed, in case a notification was lost (a no-op on one
    SQLite process)."""
    await server.store.follow()
