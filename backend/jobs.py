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
from typing import Any

from backend.accounts import Accounts
from backend.hub import Hub
from backend.store import Store
from backend.websockets_adapter import abort, write_backlog
from backend.writer import SystemSession, Writer
from protocol.alerts import due_to_ring, is_breached
from protocol.frames import CloseCode
from protocol.models import utcnow

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


RESUBMIT_SECONDS = 30.0
"""A system mutation not yet seen to take effect is submitted again after this long (its first
try may have died with a failed commit); a second try of one that did apply is refused by the
rule book and changes nothing."""


class SlaJob:
    """The server's SLA duty: raise ``sla_breach`` (and escalate) when an open request passes
    its deadline, and ring again alerts nobody acknowledged.

    Both go through system mutations (``raise_sla_alert``, ``ring_alerts``), so the alerts are
    records in the change log like any edit: a terminal that was away gets them by catch-up, a
    restart repeats nothing early (the last ring is in the row), and with several instances
    each breach is raised, and each bell rung again, by exactly one of them (the rule book
    refuses the second).
    """

    def __init__(
        self,
        store: Store,
        writer: Writer,
        actor: SystemSession,
        *,
        escalate: bool,
        repeat_seconds: float,
    ) -> None:
        self.store = store
        self.writer = writer
        self.actor = actor
        self.escalate = escalate
        self.repeat_seconds = repeat_seconds
        self.submitted: dict[tuple[str, str, str], float] = {}
        """(what, request id, which deadline or ring) → when it was submitted, until it is
        seen to take effect."""

    def _submit(
        self, name: str, args: dict[str, Any], key: tuple[str, str, str], now: float
    ) -> None:
        when = self.submitted.get(key)
        if when is not None and now - when < RESUBMIT_SECONDS:
            return
        self.submitted[key] = now
        self.writer.submit_system(self.actor, name, args)

    def _forget(self, what: str, keep: set[tuple[str, str, str]]) -> None:
        """Drop the submissions of ``what`` that are no longer needed (they took effect, or
        the request moved on)."""
        for key in [k for k in self.submitted if k[0] == what and k not in keep]:
            del self.submitted[key]

    async def check_deadlines(self) -> None:
        """Raise a breach for each open request whose deadline came up (once per deadline)."""
        state = self.store.state
        now = utcnow()
        stamp = time.monotonic()
        due = set(state.deadlines.take_due(now.timestamp()))
        # Breaches submitted before and not yet on record are tried again (a failed commit).
        due.update(rid for what, rid, _ in self.submitted if what == "breach")
        keep: set[tuple[str, str, str]] = set()
        for rid in due:
            row = state.requests.get(rid)
            if row is None or not is_breached(row, now):
                continue
            deadline = row.due_at.isoformat()
            key = ("breach", rid, deadline)
            keep.add(key)
            args = {"id": rid, "due_at": deadline, "escalate": self.escalate}
            self._submit("raise_sla_alert", args, key, stamp)
        self._forget("breach", keep)
        if keep:
            log.info("event=job job=sla breaches=%d", len(keep))

    async def ring_again(self) -> None:
        """Ring again every open alert of an open request whose bell last rang a period ago."""
        now = utcnow()
        stamp = time.monotonic()
        before = now - timedelta(seconds=self.repeat_seconds)
        rung_before = before.isoformat()
        keep: set[tuple[str, str, str]] = set()
        for row in self.store.state.requests.open_rows():
            if not row.alerts:
                continue
            rung = [a.rung_at for a in row.alerts if due_to_ring(a, before) and a.rung_at]
            if rung:
                key = ("ring", row.id, min(rung).isoformat())
                keep.add(key)
                args = {"id": row.id, "rung_before": rung_before}
                self._submit("ring_alerts", args, key, stamp)
        self._forget("ring", keep)


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
