"""The engine's state in one place, shared by the parts that work on it.

The engine (the public API), the reconciler (server frames in), the sync client's peer and the
leader/follower sharing all read and change the same replica, outbox, view, counters and
status. They hold this one ``EngineState`` instead of reaching into each other: every field is
declared here, and the few operations more than one part needs (announce, change the status,
queue a replica write) are its methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from offline.alerts import AlertIndex
from offline.conflicts import Conflict
from offline.errors import EngineClosed
from offline.events import AlertsChanged, EngineEvent, EngineStatus, StatusChanged, ViewChanged
from offline.index import ViewIndex
from offline.outbox import Outbox
from offline.replica import Batch, Replica
from offline.server_rules import ServerRules
from offline.view import OptimisticView
from protocol import utcnow

log = logging.getLogger(__name__)

FOLLOWER_REASON = "another frontdesk process on this terminal syncs this replica"


class WriteQueue:
    """Replica writes of server frames, one after the other, not awaited by the caller.

    While SQLite commits one burst, the next frames are parsed and collect into a bigger burst;
    the next ``queue`` waits for the previous write first, so writes keep their order and a
    failed write surfaces at the next one.
    """

    def __init__(self, replica: Replica) -> None:
        self._replica = replica
        self._task: asyncio.Task[None] | None = None
        self._waiting = 0

    async def queue(self, batch: Batch) -> None:
        """Start writing ``batch`` after the previous queued write (which is awaited first)."""
        previous = self._task
        if previous is not None:
            self._waiting += 1
            try:
                # Shielded: stopping the sync task must not cancel a write half way.
                await asyncio.shield(previous)  # a failed write raises here, ending the link
            finally:
                self._waiting -= 1
        self._task = asyncio.create_task(self._replica.apply(batch)) if batch else None

    async def settle(self) -> None:
        """Wait for the queued write (raises what it raised)."""
        task, self._task = self._task, None
        if task is not None:
            await asyncio.shield(task)

    async def idle(self) -> None:
        """Wait for the queued write without taking it over (its failure is not ours to tell)."""
        task = self._task
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    @property
    def behind(self) -> bool:
        """True while a caller waits for the previous write: the disk is slower than the
        frames coming in."""
        return self._waiting > 0


@dataclasses.dataclass(eq=False)
class EngineState:
    """Replica, outbox, view, counters and status of one engine, and who listens to it."""

    replica: Replica
    outbox: Outbox
    view: OptimisticView
    conflicts: dict[str, Conflict]
    """Parked conflicts by id."""
    status: EngineStatus
    leader: bool
    """True when this process syncs the replica (False: it follows the one that does)."""
    next_n: int
    """Lowest number the next mutation may get (``welcome.last_mutation`` raises it); the
    number itself is taken from the replica inside the outbox write."""
    last_seq: int
    clock_offset: float
    """Seconds to add to the local clock to get the server's (measured at ``welcome``)."""
    followed: bool = False
    """True once another process opened this replica (then the leader shares its status)."""
    mine: set[int] = dataclasses.field(default_factory=set)
    """Mutation numbers this process queued (a follower shows only its own rejections)."""
    answered_recently: set[int] = dataclasses.field(default_factory=set)
    """Numbers answered since the leader last looked for other processes' outbox rows (so a
    row answered meanwhile is not taken for a new one)."""
    sent_unrecorded: list[int] = dataclasses.field(default_factory=list)
    """Numbers put on the wire and not yet marked ``inflight`` in the replica."""
    closed: bool = False
    index: ViewIndex | None = None
    """The query index, built at the first ``query`` and kept current from then on."""
    write_lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    """Held while the outbox and the view change together (a write, an adoption)."""
    writes: WriteQueue = dataclasses.field(init=False)
    listeners: list[Callable[[EngineEvent], None]] = dataclasses.field(default_factory=list)
    publishing: asyncio.Task[None] | None = None
    """The replica write recording the leader's status for followers, if one runs."""
    alerts: AlertIndex = dataclasses.field(init=False)
    """The view's rows that carry alerts (``offline.alerts``), kept current by ``view_changed``."""
    alerts_away: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    """Alerts new to this terminal that the running catch-up brought (told when it ends)."""
    first_fill: bool = False
    """True while a replica that never synced catches up for the first time: what it brings
    was not missed (a new terminal has no "while away"), so its alerts are shown, not
    announced."""

    def __post_init__(self) -> None:
        self.writes = WriteQueue(self.replica)
        self.alerts = AlertIndex(self.view.rows)

    # -- small reads -----------------------------------------------------------------------

    def server_now(self) -> datetime:
        """The server's clock as best known (local clock + offset measured at ``welcome``)."""
        return utcnow() + timedelta(seconds=self.clock_offset)

    def check_open(self) -> None:
        if self.closed:
            raise EngineClosed("the engine is closed")

    def number_from_outbox(self) -> None:
        """Raise ``next_n`` past every number the replica or its outbox has used."""
        last_n = max((m.n for m in self.outbox.entries()), default=0)
        self.next_n = max(self.next_n, self.replica.next_n, last_n + 1)

    @property
    def rules(self) -> ServerRules:
        """The server's staff directory, SLA table and bell period, as last seen."""
        return self.view.rules

    def adopt_rules(self, rules: ServerRules) -> set[str]:
        """Predict with ``rules`` from now on; returns the ids whose pending edits must be
        replayed (none when nothing a prediction uses changed)."""
        if rules.same_as(self.view.rules):
            return set()
        self.view.rules = rules
        return self.outbox.ids()

    # -- events ----------------------------------------------------------------------------

    def emit(self, event: EngineEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("engine listener failed on %r", type(event).__name__)

    def view_changed(self, ids: set[str], *, loaded: bool = False) -> None:
        """Keep the query and alert indexes current, then tell listeners (one event per burst).

        ``loaded``: the rows were read from the replica, not changed: their alerts are not new.
        Alerts a catch-up brings are told once, when it ends (``set_status``)."""
        if self.index is not None:
            self.index.update(ids)
        delta = self.alerts.update(ids)
        self.emit(ViewChanged(frozenset(ids)))
        if not delta.changed:
            return
        raised = () if loaded else delta.raised
        if raised and self.status.catching_up:
            if not self.first_fill:
                self.alerts_away.extend(raised)
            raised = ()
        self.emit(AlertsChanged(raised))

    # -- status ----------------------------------------------------------------------------

    def set_status(self, **changes: Any) -> None:
        new = dataclasses.replace(self.status, **changes)
        if new != self.status:
            old, self.status = self.status, new
            if self.leader and self.followed and _shared_part(old) != _shared_part(new):
                self.publish_status()
            if new.catching_up and not old.catching_up:
                self.first_fill = self.last_seq == 0 and old.last_synced_at is None
            self.emit(StatusChanged(new))
            if old.catching_up and not new.catching_up and self.alerts_away:
                away, self.alerts_away = tuple(self.alerts_away), []
                self.emit(AlertsChanged(away, caught_up=True))

    def refresh_status(self, emit: bool = True, **more: Any) -> None:
        """Recount what is pending and parked (and apply ``more``)."""
        changes = dict(
            pending=len(self.outbox),
            oldest_pending_at=self.outbox.oldest_created_at(),
            conflicts=len(self.conflicts),
            **more,
        )
        if emit:
            self.set_status(**changes)
        else:
            self.status = dataclasses.replace(self.status, **changes)

    def publish_status(self) -> None:
        """Record the connection state in the replica for follower processes."""
        if self.closed:
            return
        status = self.status
        body = json.dumps(
            {
                "connection": status.connection,
                "reason": status.reason,
                "last_synced_at": (
                    status.last_synced_at.isoformat() if status.last_synced_at else None
                ),
                "reconnects": status.reconnects,
                "needs_sign_in": status.needs_sign_in,
            }
        )
        previous = self.publishing
        replica = self.replica

        async def publish() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            with contextlib.suppress(Exception):
                await replica.apply(Batch(meta={"leader_status": body}))

        self.publishing = asyncio.get_running_loop().create_task(publish())

    def apply_leader_status(self, meta: Mapping[str, str], emit: bool = True) -> None:
        """A follower shows the leader's connection state."""
        changes: dict[str, Any] = {"connection": "offline", "reason": FOLLOWER_REASON}
        with contextlib.suppress(ValueError, TypeError, KeyError):
            body = json.loads(meta["leader_status"])
            changes["connection"] = body["connection"]
            changes["reason"] = body.get("reason")
            changes["reconnects"] = int(body.get("reconnects") or 0)
            changes["needs_sign_in"] = body.get("needs_sign_in") is True
            if body.get("last_synced_at"):
                changes["last_synced_at"] = datetime.fromisoformat(body["last_synced_at"])
        if emit:
            self.set_status(**changes)
        else:
            self.status = dataclasses.replace(self.status, **changes)


def _shared_part(status: EngineStatus) -> tuple[Any, ...]:
    return (
        status.connection,
        status.reason,
        status.last_synced_at,
        status.reconnects,
        status.needs_sign_in,
    )
