"""Group commit: one writer task applies every waiting mutation in one transaction.

Each connection has a ``Lane``: a bounded queue of its unprocessed mutations. When a lane is full
the connection's reader awaits ``Lane.put``, so it stops reading and TCP pushes back on the client.
The writer takes one mutation per lane in turn (round-robin) until the batch is full, so a client
replaying a long outage cannot starve the others. It applies the batch with the protocol mutators
against the in-memory rows, commits it in one transaction, and only then sends acks, rejects and
``change`` frames. Nothing is acknowledged before it is durable.

The in-memory rows are the open requests and a few recently touched closed ones
(``backend/working_set.py``): before a batch is prepared, the closed rows it touches are read
from the store in one query (``_hold_rows``), so preparing stays synchronous and decides on
current rows, exactly as when every row was held.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backend.hub import Hub, Peer
from backend.metrics import Metrics
from backend.store import ESCALATION_CLIENT, Batch, FollowedChange, Store, StoreUnavailable
from protocol import codec
from protocol.alerts import Bell, bells
from protocol.frames import CloseCode, ErrorCode, Mutate
from protocol.models import Request, Role, utcnow
from protocol.mutators import apply_bulk, apply_mutation, target_ids
from protocol.rules import Actor, Code, Rejection
from protocol.sla import SlaTable
from protocol.staff import StaffDirectory
from protocol.wire import dumps

if TYPE_CHECKING:
    from backend.session import Session

log = logging.getLogger("frontdesk.writer")

INTERNAL_ERROR = 1011
"""WebSocket close code for an unexpected server error."""


@dataclass(slots=True)
class Lane:
    """One connection's queue of mutations waiting for the writer."""

    session: Session | SystemSession
    writer: Writer
    capacity: int
    items: deque[Mutate] = field(default_factory=deque)
    space: asyncio.Future[None] | None = None
    """Set while the reader waits for room in a full lane."""
    queued: bool = False

    def try_put(self, frame: Mutate) -> bool:
        """Queue a mutation when there is room, without awaiting; False when the lane is full."""
        if len(self.items) >= self.capacity:
            return False
        self.items.append(frame)
        if not self.queued:
            self.queued = True
            self.writer.ready.append(self)
            self.writer.wake.set()
        return True

    async def put(self, frame: Mutate) -> None:
        """Queue a mutation; waits (so the caller stops reading) while the lane is full."""
        while len(self.items) >= self.capacity:
            self.space = asyncio.get_running_loop().create_future()
            try:
                await self.space
            finally:
                self.space = None
        self.items.append(frame)
        if not self.queued:
            self.queued = True
            self.writer.ready.append(self)
            self.writer.wake.set()


@dataclass(slots=True)
class _Answer:
    session: Session | SystemSession
    frame: Mutate
    text: str | None
    """The outcome frame; None for a duplicate whose outcome must be read from the store."""


def _reject(n: int, rejection: Rejection, current: Request | None) -> str:
    return dumps(
        {
            "type": "reject",
            "n": n,
            "code": rejection.code,
            "message": rejection.message,
            "current": current.to_wire() if current is not None else None,
            "fields": rejection.fields,
        }
    )


def client_key(user: str, client_id: str) -> str:
    """Exactly-once state is kept per (user, client_id), as ``user/client_id``.

    A terminal (one client_id per installation) may be shared by several users across shifts,
    and a client_id is visible to everyone in ``change`` frames: keyed by user too, nobody can
    spend another user's mutation numbers or read their stored answers. User names cannot hold
    ``/``, so the key is unambiguous.
    """
    return f"{user}/{client_id}"


class SystemSession:
    """Stands in for a connection when the server itself mutates (SLA alerts and escalation).

    Its mutations go through the same lane, mutators, change log and fan-out as anyone's; its
    answers go nowhere. Only its actor may make the system mutations (``SYSTEM_MUTATIONS``).
    """

    ws = None
    closing = True
    close_reason: str | None = None
    live = False
    system = True

    def __init__(self, user: str = "system", role: Role = Role.MANAGER) -> None:
        self.user = user
        self.role = role


@dataclass(slots=True)
class _Prepared:
    """A batch applied in memory, waiting for (or in) its commit."""

    batch: Batch
    outcomes: dict[tuple[str, int], str]
    jobs: list[tuple[Session | SystemSession, Mutate]]
    answers: list[_Answer] = field(default_factory=list)
    changes: list[tuple[int, str, Request, Request | None]] = field(default_factory=list)
    alerts: list[tuple[Bell, str]] = field(default_factory=list)
    """The bells this batch rings: which alert, and the row's JSON."""
    applied: Counter[str] = field(default_factory=Counter)
    """Acknowledged mutations by name, for the metrics (counted once per batch)."""


class Writer:
    """The single task that turns queued mutations into committed, acknowledged changes."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        metrics: Metrics,
        sla: SlaTable,
        batch_max: int = 256,
        staff: Callable[[], StaffDirectory] | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.metrics = metrics
        self.sla = sla
        self.staff = staff
        """The directory assignees are checked against (None: not checked)."""
        self.batch_max = batch_max
        self.ready: deque[Lane] = deque()
        self.wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._pending: _Prepared | None = None
        """The batch being committed: the next batch is prepared on top of it."""
        self._system_lane: Lane | None = None
        self._system_n = 0
        self._by_prefixes: dict[str, str] = {}

    def _by_prefix(self, key: str, user: str, cid: str) -> str:
        """``{"user":…,"client_id":…,"n":`` of a ``change`` frame's ``by``, made once per client."""
        prefix = self._by_prefixes.get(key)
        if prefix is None:
            if len(self._by_prefixes) >= 10_000:
                self._by_prefixes.clear()
            prefix = codec.by_prefix(user, cid)
            self._by_prefixes[key] = prefix
        return prefix

    @property
    def system_client_id(self) -> str:
        """The ``client_id`` of this instance's own mutations: one per instance, so two
        instances escalating at once never spend the same mutation numbers."""
        instance = self.store.instance_id
        if not instance or instance == self.store.server_id:
            return ESCALATION_CLIENT
        return f"{ESCALATION_CLIENT}:{instance}"

    def lane(self, session: Session, capacity: int) -> Lane:
        return Lane(session, self, capacity)

    def submit_system(self, session: SystemSession, name: str, args: dict[str, Any]) -> int:
        """Queue a mutation the server makes itself; returns its ``n``."""
        if self._system_lane is None:
            self._system_lane = Lane(session, self, 1 << 30)
        cid = self.system_client_id
        key = client_key(session.user, cid)
        n = max(self.store.state.client_last_n.get(key, 0), self._system_n) + 1
        self._system_n = n
        frame = Mutate(client_id=cid, n=n, name=name, args=args)
        lane = self._system_lane
        lane.items.append(frame)
        if not lane.queued:
            lane.queued = True
            self.ready.append(lane)
            self.wake.set()
        return n

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="frontdesk-writer")

    async def stop(self) -> None:
        """Finish every mutation already queued, then end the task."""
        self._stopping = True
        self.wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        """Prepare batch k+1 while batch k commits; commits and deliveries stay in order."""
        inflight: asyncio.Task[bool] | None = None
        while True:
            if not self.ready:
                if inflight is not None:
                    await inflight
                    inflight = None
                    continue
                if self._stopping:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            jobs = self._take()
            if not await self._hold_rows(jobs):
                continue
            try:
                prepared = self._prepare(jobs, self._pending)
            except Exception:  # a bug here must not stop every future write
                log.exception("event=internal preparing a batch failed")
                for session, _frame in jobs:
                    self.hub.close(session, INTERNAL_ERROR, "internal error")
                continue
            if inflight is not None:
                committed = await inflight
                inflight = None
                if not committed:  # ``prepared`` built on a state that never became true
                    self._pending = None
                    self._fail(prepared.answers)
                    continue
            self._pending = prepared
            inflight = asyncio.get_running_loop().create_task(self._commit_and_deliver(prepared))

    def _fail(self, answers: list[_Answer]) -> None:
        """The batch did not commit: nothing is acknowledged. Each connection hears why and is
        closed (1013), so its client reconnects and sends the same mutations again."""
        text = error_frame(
            ErrorCode.UNAVAILABLE,
            "the database is unavailable; nothing was saved, send the mutation again later",
            ref="mutate",
        )
        told: set[int] = set()
        for answer in answers:
            session = answer.session
            if id(session) not in told:
                told.add(id(session))
                self.hub.send((session,), text)
            self.hub.close(session, CloseCode.TRY_AGAIN_LATER, "store unavailable")

    async def _hold_rows(self, jobs: list[tuple[Session | SystemSession, Mutate]]) -> bool:
        """Read the rows ``jobs`` touch that memory does not hold (closed requests) from the
        store; no await follows before ``_prepare``, so they are there when it runs. False (and
        the connections closed 1013, to resend) when the store cannot be read."""
        held = self.store.state.requests
        pending = self._pending.batch.rows if self._pending is not None else {}
        wanted = [
            rid
            for _session, m in jobs
            for rid in target_ids(m.name, m.args)
            if rid not in held and rid not in pending
        ]
        if not wanted:
            return True
        try:
            while True:
                await self.store.hold_rows(wanted)
                # Rows held meanwhile may have pushed some out of the closed-row cache (a
                # large follow on PostgreSQL): read those again. Unknown ids stay missing.
                evicted = [rid for rid in wanted if rid not in held]
                if len(evicted) == len(wanted) or not evicted:
                    return True
                wanted = evicted
        except Exception as exc:
            log.warning("event=read_rows outcome=failed error=%s", exc)
            self._fail([_Answer(session, m, None) for session, m in jobs])
            return False

    def _take(self) -> list[tuple[Session | SystemSession, Mutate]]:
        """Up to ``batch_max`` mutations, one per lane in turn."""
        batch: list[tuple[Session | SystemSession, Mutate]] = []
        ready = self.ready
        while ready and len(batch) < self.batch_max:
            lane = ready.popleft()
            batch.append((lane.session, lane.items.popleft()))
            if lane.items:
                ready.append(lane)
            else:
                lane.queued = False
            if lane.space is not None and not lane.space.done():
                lane.space.set_result(None)
        return batch

    def _prepare(
        self, jobs: list[tuple[Session | SystemSession, Mutate]], pending: _Prepared | None
    ) -> _Prepared:
        """Apply a batch in memory, on top of the committed state and ``pending`` (the batch
        still committing, if any)."""
        store = self.store
        state = store.state
        now = utcnow()
        at = now.timestamp()
        if pending is not None:
            base = pending.batch
            batch = Batch(
                head_seq=base.head_seq,
                next_number=base.next_number,
                base_commit=base.base_commit + 1,
            )
            earlier_rows, earlier_clients = base.rows, base.clients
            earlier_outcomes = pending.outcomes
        else:
            batch = Batch(
                head_seq=state.head_seq, next_number=state.next_number, base_commit=state.commits
            )
            earlier_rows, earlier_clients = {}, {}
            earlier_outcomes = {}
        # Only this batch's outcomes and the committing batch's: anything older is committed,
        # so a resend of it reads the store (copying the chain made every batch O(all so far)).
        outcomes: dict[tuple[str, int], str] = {}
        prepared = _Prepared(batch, outcomes, jobs)
        overlay: dict[str, Request] = {}
        answers, changes, alerts = prepared.answers, prepared.changes, prepared.alerts
        staff = self.staff() if self.staff is not None else None

        def current(rid: str) -> Request | None:
            row = overlay.get(rid)
            if row is not None:
                return row
            earlier = earlier_rows.get(rid)
            return earlier[0] if earlier is not None else state.requests.get(rid)

        def last_n(cid: str) -> int:
            seen = batch.clients.get(cid) or earlier_clients.get(cid)
            return seen[1] if seen is not None else state.client_last_n.get(cid, 0)

        for session, m in jobs:
            cid = m.client_id
            key = client_key(session.user, cid)
            if m.n <= last_n(key):
                done = (key, m.n)
                text = outcomes.get(done) or earlier_outcomes.get(done)
                answers.append(_Answer(session, m, text))
                continue
            actor = Actor(session.user, session.role, session.system)
            ids = target_ids(m.name, m.args)
            batch.needs.extend(ids)
            result: Request | list[Request] | Rejection
            before = None
            try:
                if m.name == "bulk_set_status":
                    rows = {rid: row for rid in ids if (row := current(rid)) is not None}
                    result = apply_bulk(m.args, rows, actor, now)
                else:
                    before = current(ids[0]) if ids else None
                    result = apply_mutation(
                        m.name,
                        m.args,
                        before,
                        actor,
                        now,
                        base_version=m.base_version,
                        sla=self.sla,
                        staff=staff,
                    )
            except Exception:
                # A bug in a rule must not stop the writer: this mutation is not processed
                # (the client may resend it), the others go on.
                log.exception("event=internal mutation=%s user=%s", m.name[:40], session.user)
                internal = error_frame(
                    ErrorCode.INTERNAL, "the server failed on this mutation", ref="mutate", n=m.n
                )
                answers.append(_Answer(session, m, internal))
                continue
            if isinstance(result, Rejection):
                text = _reject(m.n, result, before)
                self.metrics.rejected(m.name, result.code)
                batch.outcomes.append((key, m.n, text, at, None, None))
            elif result is before and before is not None:
                # Answered, and nothing changes (an alert acknowledged a second time): no
                # change-log entry, no broadcast; the ack carries the row as it stands (stored
                # whole: no entry of the log holds it at this seq).
                text = codec.ack_text(m.n, batch.head_seq, before.model_dump_json())
                prepared.applied[m.name] += 1
                batch.outcomes.append((key, m.n, text, at, None, None))
            else:
                rows_after = result if isinstance(result, list) else [result]
                by = self._by_prefix(key, actor.user, cid) + f"{m.n}}}"
                datas = []
                for row in rows_after:
                    old = current(row.id)
                    if row.number is None:
                        row = row.model_copy(update={"number": batch.next_number})
                        batch.next_number += 1
                    batch.head_seq += 1
                    seq = batch.head_seq
                    data = row.model_dump_json()
                    datas.append(data)
                    overlay[row.id] = row
                    batch.rows[row.id] = (row, data, seq)
                    batch.changes.append((seq, row.id, m.name, actor.user, cid, m.n, at, data))
                    change = codec.change_text(seq, data, by)
                    changes.append((seq, change, row, old))
                    alerts.extend((bell, data) for bell in bells(row))
                if isinstance(result, list):
                    text = codec.bulk_ack_text(m.n, batch.head_seq, datas)
                else:
                    text = codec.ack_text(m.n, batch.head_seq, datas[0])
                prepared.applied[m.name] += 1
                if datas:  # stored as its seq: the log holds the rows (Store.outcome_frame)
                    rows_changed = len(datas) if isinstance(result, list) else 0
                    batch.outcomes.append((key, m.n, "", at, batch.head_seq, rows_changed))
                else:
                    batch.outcomes.append((key, m.n, text, at, None, None))
            batch.clients[key] = (session.user, m.n)
            outcomes[(key, m.n)] = text
            answers.append(_Answer(session, m, text))
        return prepared

    async def _commit_and_deliver(self, prepared: _Prepared) -> bool:
        """Commit one prepared batch, then send its answers, changes and alerts."""
        store = self.store
        first = prepared
        started = time.perf_counter()
        rebuilt: list[_Prepared] = []

        def rebuild() -> Batch:
            # Another instance committed since ``first`` was prepared: the same mutations,
            # prepared again on the state the store has just brought up to date.
            again = self._prepare(first.jobs, None)
            rebuilt.append(again)
            return again.batch

        try:
            if first.batch.outcomes:
                written = await store.commit_batch(first.batch, rebuild)
                if rebuilt and written is rebuilt[-1].batch:
                    prepared = rebuilt[-1]
        except Exception as exc:
            if isinstance(exc, StoreUnavailable):
                log.warning("event=commit outcome=unavailable error=%s", exc)
            else:
                log.exception("commit failed; the batch's connections must resend")
            self._fail(first.answers)
            return False
        finally:
            if self._pending is first:
                self._pending = None
        batch = prepared.batch
        self.metrics.committed(time.perf_counter() - started, len(batch.outcomes))
        for name, count in prepared.applied.items():
            self.metrics.applied(name, count)

        fan_started = time.perf_counter()
        hub = self.hub
        out: dict[Peer, list[bytes]] = defaultdict(list)
        pruned_or_older: list[_Answer] = []
        for answer in prepared.answers:
            if answer.text is None:
                pruned_or_older.append(answer)
            else:
                out[answer.session].append(answer.text.encode())
        for seq, text, row, old in prepared.changes:
            for session in hub.catching_up:
                session.buffer_change(seq, text)
            data = text.encode()
            for session in hub.change_recipients(row, old):
                # A session whose catch-up already read this entry (the commit was visible to
                # its read before this delivery ran) must not get it twice.
                if seq > session.synced_seq:
                    out[session].append(data)
        for bell, row_data in prepared.alerts:
            data = alert_frame(bell, row_data).encode()
            self.metrics.rang(bell)
            for session in hub.alert_recipients():
                out[session].append(data)
        hub.deliver(out)
        if prepared.changes:
            self.metrics.fanned_out(time.perf_counter() - fan_started)
        # Resends of mutations from earlier batches: their answers are read from the store,
        # after this batch's frames are out (no await between commit and fan-out).
        for answer in pruned_or_older:
            key = client_key(answer.session.user, answer.frame.client_id)
            try:
                stored = await store.get_outcome(key, answer.frame.n)
            except Exception:
                log.exception("event=internal reading a stored outcome failed")
                hub.close(answer.session, CloseCode.TRY_AGAIN_LATER, "store unavailable")
                continue
            hub.deliver({answer.session: [(stored or self._pruned(answer.frame)).encode()]})
        return True

    def deliver_followed(self, entries: list[FollowedChange]) -> None:
        """Send the changes another instance committed to this instance's connections.

        Called by the store right after its state took them, so they go out in ``seq`` order
        with this instance's own commits; alerts are derived from each change here as they are
        for this instance's own.
        """
        hub = self.hub
        out: dict[Peer, list[bytes]] = defaultdict(list)
        for entry in entries:
            by = dumps({"user": entry.user, "client_id": entry.client_id, "n": entry.n})
            text = codec.change_text(entry.seq, entry.data, by)
            for session in hub.catching_up:
                session.buffer_change(entry.seq, text)
            data = text.encode()
            for session in hub.change_recipients(entry.row, entry.old):
                if entry.seq > session.synced_seq:
                    out[session].append(data)
            for bell in bells(entry.row):
                alert = alert_frame(bell, entry.data).encode()
                self.metrics.rang(bell)
                for session in hub.alert_recipients():
                    out[session].append(alert)
        hub.deliver(out)

    @staticmethod
    def _pruned(frame: Mutate) -> str:
        return dumps(
            {
                "type": "reject",
                "n": frame.n,
                "code": Code.DUPLICATE,
                "message": f"mutation {frame.n} was already processed; its outcome is no longer"
                " kept (catch-up has the result)",
                "current": None,
                "fields": {},
            }
        )


def alert_frame(bell: Bell, row: str) -> str:
    """An ``alert`` frame from the row's JSON, serialized once for every recipient."""
    return codec.alert_text(bell.kind, row, bell.index, bell.repeat)


def error_frame(code: str, message: str, ref: str | None = None, n: int | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    if n is not None:
        frame["n"] = n
    return dumps(frame)
