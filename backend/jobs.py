"""Background jobs of a running server: token expiry/revocation checks, SLA alerts, clean-up.

Each job is one asyncio task looping on its own period; ``start_jobs`` starts them and the server
cancels them on close. A job that fails logs and tries again next period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from backend.accounts import Accounts
from backend.hub import Hub
from backend.metrics import Metrics
from backend.store import Store
from backend.websockets_adapter import abort, write_backlog
from backend.writer import SystemSession, Writer, alert_frame
from protocol.frames import CloseCode
from protocol.models import PRIORITY_RANK, Priority, utcnow
from protocol.sla import SlaTable

log = logging.getLogger("frontdesk.jobs")

PING_BACKLOG = 16 * 1024
"""Bytes waiting to be written above which a connection is not pinged (ping would block)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A coroutine run every ``period`` seconds under ``name`` (logs, ``runs``)."""

    name: str
    period: float
    run: Callable[[], Awaitable[None]]


def start_jobs(jobs: list[Job], runs: Counter[str]) -> list[asyncio.Task[None]]:
    """Start each job as its own task; ``runs[name]`` counts its completed runs."""
    loop = asyncio.get_running_loop()
    return [loop.create_task(_every(job, runs), name=f"frontdesk-job-{job.name}") for job in jobs]


async def _every(job: Job, runs: Counter[str]) -> None:
    while True:
        await asyncio.sleep(job.period)
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event=job job=%s outcome=failed retry_s=%.0f", job.name, job.period)
        runs[job.name] += 1
        log.debug("event=job job=%s", job.name)


async def check_tokens(hub: Hub, accounts: Accounts) -> None:
    """Close connections whose token expired or was revoked (4401); refresh roles of the rest."""
    for session in list(hub.sessions):
        if session.closing:
            continue
        identity = await accounts.check_hash(session.identity.token_hash)
        if identity is None:
            hub.close(session, CloseCode.UNAUTHORIZED, "token expired or revoked")
        else:
            session.identity = identity


@dataclass(frozen=True, slots=True)
class SlaJob:
    """What the SLA job reads and whom it tells."""

    store: Store
    hub: Hub
    metrics: Metrics
    writer: Writer
    actor: SystemSession
    """The server's own actor, for escalations."""
    sla: SlaTable
    escalate: bool


async def check_sla(job: SlaJob) -> None:
    """Alert once per breach when an open request passes ``due_at``; escalate if configured.

    A breach is identified by (request id, due_at) and remembered in ``alerts_sent`` before the
    alert goes out, so it never fires twice, across restarts too. Escalation raises the priority
    one step with a fresh deadline from now (a server mutation, logged and broadcast like any).
    """
    store = job.store
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
        job.metrics.alerts.labels("sla_breach").inc()
        job.hub.publish_alert(alert_frame("sla_breach", row))
    log.info("event=job job=sla breaches=%d", len(breached))
    # Every instance rings its own terminals' bell; only the one that recorded a breach first
    # escalates it, so a request is raised one step once, however many instances run.
    mine = set(first)
    breached = [row for row in breached if (row.id, row.due_at.timestamp()) in mine]
    if not job.escalate:
        return
    for row in breached:
        rank = PRIORITY_RANK[row.priority]
        if rank >= PRIORITY_RANK[Priority.URGENT]:
            continue
        raised = next(p for p, r in PRIORITY_RANK.items() if r == rank + 1)
        due_at = now + timedelta(minutes=job.sla.minutes(row.category, raised))
        job.writer.submit_system(
            job.actor,
            "update_request",
            {"id": row.id, "changes": {"priority": raised.value, "due_at": due_at.isoformat()}},
        )


async def compact_log(store: Store, keep_days: float) -> None:
    """Drop change-log entries older than ``keep_days``; older clients get a snapshot."""
    cutoff = time.time() - keep_days * 86400
    through = await store.compact_log(cutoff)
    if through is not None:
        log.info("event=job job=compaction through_seq=%d", through)


async def prune_outcomes(store: Store, keep_days: float, keep_per_client: int) -> None:
    """Forget stored mutation outcomes both older than ``keep_days`` and not among the latest
    ``keep_per_client`` numbers of their client. A resend of a forgotten one gets ``reject``
    with code ``duplicate``."""
    cutoff = time.time() - keep_days * 86400
    removed = await store.prune_outcomes(cutoff, keep_per_client)
    if removed:
        log.info("event=job job=outcomes pruned=%d", removed)


async def keepalive(hub: Hub, interval: float, pong_timeout: float) -> None:
    """Ping every connection; drop the ones whose last ping went unanswered too long.

    One job for all connections instead of websockets' keepalive task per connection keeps an
    idle connection about a kilobyte smaller. A connection whose write buffer is backed up is
    not pinged (``ping()`` would wait for it to drain, holding up everybody after it); if it
    stays backed up past a ping interval plus the timeout, it is dropped as stuck.
    """
    now = time.monotonic()
    for session in list(hub.sessions):
        if session.closing:
            continue
        ws = session.ws
        waiter = session.ping_waiter
        unanswered = waiter is not None and not waiter.done()
        backed_up = write_backlog(ws) > PING_BACKLOG
        if session.ping_sent == 0.0:
            session.ping_sent = now  # first round: start the clock
        late = now - session.ping_sent > (pong_timeout if unanswered else interval + pong_timeout)
        if (unanswered or backed_up) and late:
            session.close_reason = "no pong"
            session.closing = True
            abort(ws)
            continue
        if unanswered or backed_up:
            continue
        try:
            # The documented answer of ``ping()`` is a future; typed as an awaitable.
            session.ping_waiter = asyncio.ensure_future(await ws.ping())
            session.ping_sent = now
        except Exception:  # closing or closed: the handler cleans up
            continue
