"""The offline engine: what the TUI and the CLI talk to.

Reads come from the in-memory optimistic view and never block. A write is predicted by the
shared mutators (refused at once when the rule book says no), committed to the outbox in one
transaction, then shown in the view, then announced (``ViewChanged``); the sync client pushes
it when a server is reachable. Server frames are applied in batches (one transaction each) and
the view is rebased for the ids they touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline.alerts import AlertRef
from offline.config import EngineConfig
from offline.conflicts import Conflict, mutation_for, strategies_with
from offline.errors import Rejected, ServerApiError, UnknownConflict
from offline.events import EngineEvent, EngineStatus, PresenceEntry
from offline.index import ViewIndex
from offline.opening import LOAD_CHUNK, open_replica
from offline.outbox import Outbox, PendingMutation
from offline.presence import PresenceLink
from offline.reconcile import Reconciler
from offline.replica import Batch, Replica
from offline.rows import from_replica, settle_heap
from offline.server_rules import ServerRules
from offline.shared import Follower, LeaderWatch
from offline.state import EngineState
from offline.view import OptimisticView
from protocol import Actor, Rejection, Request, Role, SlaTable, StaffDirectory

if TYPE_CHECKING:
    from offline.history import Lookup
    from offline.sync import SyncClient
    from protocol.report import Report

__all__ = ["Engine", "EngineConfig"]

if TYPE_CHECKING:
    from offline.triage.service import Triage

log = logging.getLogger(__name__)


class Engine:
    """Replica + outbox + optimistic view + sync client, behind one small API.

    Composed of parts that share one ``EngineState``: the ``Reconciler`` applies server frames,
    the ``SyncClient`` (leader, online) talks to the server through it, and ``Follower`` /
    ``LeaderWatch`` share the replica file with other processes on this terminal.
    """

    _triage: Triage | None = None

    def __init__(
        self,
        config: EngineConfig,
        replica: Replica,
        lock_fd: int,
        confirmed: dict[str, Request],
        outbox: Outbox,
        conflicts: list[Conflict],
        leader: bool = True,
        rest_before: int | None = None,
    ) -> None:
        self.config = config
        self.actor = Actor(config.user, Role(config.role))
        self._state = EngineState(
            replica=replica,
            outbox=outbox,
            view=OptimisticView(self.actor, confirmed, outbox, ServerRules.from_meta(replica.meta)),
            conflicts={c.id: c for c in conflicts},
            status=EngineStatus(
                connection="offline",
                offline_only=config.server_url is None,
                reason=None if config.server_url else "no server configured (offline only)",
                follower=not leader,
            ),
            leader=leader,
            next_n=replica.next_n,
            last_seq=replica.last_seq,
            clock_offset=float(replica.meta.get("clock_offset", "0")),
        )
        self._state.number_from_outbox()
        if not leader:
            self._state.apply_leader_status(replica.meta, emit=False)
        self._state.refresh_status(emit=False)
        self._lock_fd = lock_fd
        self._token = config.token
        self._presence = PresenceLink(self._state.emit, self._outbox_age)
        self._watch = LeaderWatch(self._state, wake_push=self._wake_push)
        self._reconciler = Reconciler(
            self._state,
            strategies=strategies_with(config.conflict_strategies),
            reissue=self._reissue,
            foreign_outbox_rows=self._watch.check,
            caught_up=self._release_memory_soon,
            window_days=config.window_days,
        )
        self._sync: SyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._rest_before = rest_before
        """Set when opened with ``first``: rows below this rowid are not loaded yet."""
        self._loading: asyncio.Task[None] | None = None
        self._release_task: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, config: EngineConfig, *, first: int | None = None) -> Engine:
        """Open (or create) the replica under ``config.data_dir``; no network.

        ``first``: load only the ``first`` most recently written rows now (a screenful to show
        at once) and the rest when ``start()`` or ``loaded()`` is called (a ``ViewChanged``
        announces them). Until then ``requests()`` holds only those rows (``loading`` is
        True), and writes and syncing wait for the full load.

        A damaged replica (SQLite reports corruption) is moved aside and rebuilt by the leader:
        the outbox, the parked conflicts and the installation id are kept, the confirmed rows
        come back with the next catch-up.
        """
        opened = await open_replica(Path(config.data_dir), config.user, first)
        return cls(
            config,
            opened.replica,
            opened.lock_fd,
            opened.confirmed,
            opened.outbox,
            opened.conflicts,
            opened.leader,
            opened.rest_before,
        )

    @property
    def loading(self) -> bool:
        """True while rows of the replica are still to be loaded (opened with ``first``)."""
        return self._rest_before is not None

    async def loaded(self) -> None:
        """Wait until every row of the replica is in memory (at once unless opened with
        ``first``); starts loading them if nothing has yet."""
        if self._rest_before is None:
            return
        if self._loading is None:
            self._loading = asyncio.create_task(self._load_rest(), name="frontdesk-load")
        await asyncio.shield(self._loading)

    async def _load_rest(self) -> None:
        state = self._state
        confirmed = state.view.confirmed
        added: list[str] = []
        before = self._rest_before
        while before is not None:
            await asyncio.sleep(0)  # the UI first: a page is ~20 ms of validation
            page = await state.replica.load_request_page(before, LOAD_CHUNK)
            for row in from_replica(data for _, data in page):
                if row.id not in confirmed:
                    confirmed[row.id] = row
                    added.append(row.id)
            settle_heap()
            before = page[-1][0] if len(page) == LOAD_CHUNK else None
        self._rest_before = None
        changed = state.view.rebuild(added)  # pending edits of these rows replay now
        if changed:
            state.view_changed(changed, loaded=True)
        self._release_memory_soon()

    def _release_memory_soon(self) -> None:
        """Once the bulk work of a full load or a catch-up is written, give its page cache
        and freed heap back (about 36 MiB at 100,000 rows); in the background, never twice
        at once."""
        if self._state.closed or (self._release_task is not None and not self._release_task.done()):
            return
        self._release_task = asyncio.create_task(self._release_memory(), name="frontdesk-trim")

    async def _release_memory(self) -> None:
        try:
            await self._state.writes.idle()  # a failed write is the sync loop's to tell
            await self._state.replica.release_memory()
        except Exception as exc:  # only memory is at stake
            log.debug("releasing the replica's memory: %s", exc)

    async def start(self) -> None:
        """Start syncing (or following the process that syncs) in the background."""
        self._state.check_open()
        if self._tasks or self._sync is not None:
            return
        if self._rest_before is not None:
            # Sync and following compare versions with every confirmed row: load them first.
            self._tasks.append(asyncio.create_task(self._start_loaded(), name="frontdesk-start"))
            return
        await self._begin()

    async def _start_loaded(self) -> None:
        await self.loaded()
        await self._begin()

    async def _begin(self) -> None:
        if not self._state.leader:
            follower = Follower(self._state, self._lock_fd, promote=self._promote)
            await follower.prime()
            self._tasks.append(asyncio.create_task(follower.run(), name="frontdesk-follow"))
            return
        self._tasks.append(asyncio.create_task(self._watch.run(), name="frontdesk-leader-watch"))
        self._tasks.append(asyncio.create_task(self._evict_loop(), name="frontdesk-evict"))
        self._start_sync()

    async def _evict_loop(self) -> None:
        """Let go of closed rows older than the window, at start and then every hour."""
        from offline.history import EVICT_EVERY_SECONDS

        while True:
            try:
                await self.evict_aged()
            except Exception as exc:  # only disk space is at stake; try again next time
                log.debug("evicting aged rows: %s", exc)
            await asyncio.sleep(EVICT_EVERY_SECONDS)

    async def evict_aged(self) -> int:
        """Delete closed rows last changed more than ``window_days`` ago (nothing pending on
        them) from the replica and the view; returns how many. The server keeps them:
        ``lookup`` finds them again."""
        from offline.history import evictable

        state = self._state
        await self.loaded()
        async with state.write_lock:
            view = state.view
            parked = {c.request_id for c in state.conflicts.values()}
            ids = evictable(
                view.confirmed.values(),
                state.server_now(),
                self.config.window_days,
                lambda rid: state.outbox.has_id(rid) or rid in parked,
            )
            if not ids:
                return 0
            await state.writes.settle()
            await state.replica.delete_requests(ids)
            for rid in ids:
                view.confirmed.pop(rid, None)
            changed = view.rebuild(ids)
        if changed:
            state.view_changed(changed)
        return len(ids)

    async def lookup(
        self,
        *,
        room: str | None = None,
        number: int | None = None,
        guest: str | None = None,
    ) -> Lookup:
        """Requests matching every filter given (room, ticket number, guest-name prefix),
        newest ticket first: from the server when it answers (older requests than the replica
        keeps included; found rows join the replica, so they can be edited), else from the
        replica with a ``note`` saying what may be missing."""
        from offline.history import LOOKUP_LIMIT, Lookup, matches, outside_window_note

        await self.loaded()
        state = self._state
        local = [r for r in state.view.rows.values() if matches(r, room, number, guest)]
        local.sort(key=lambda r: -(r.number or 1 << 62))
        filters = {"limit": str(LOOKUP_LIMIT)}
        if room is not None:
            filters["room"] = room
        if number is not None:
            filters["number"] = str(number)
        if guest:
            filters["guest"] = guest
        try:
            from offline import server_api

            found, more = await server_api.fetch_requests(self._api_url(), self._token, filters)
            rows = [Request.model_validate(r) for r in found]
        except (ServerApiError, ValueError):
            note = outside_window_note(self.config.window_days)
            return Lookup(local, complete=False, note=note)
        await self._adopt(rows)
        by_id = {r.id: r for r in local}
        for row in rows:
            by_id.setdefault(row.id, state.view.rows.get(row.id, row))
        merged = sorted(by_id.values(), key=lambda r: -(r.number or 1 << 62))
        return Lookup(merged, complete=True, more=more, server_ids=[r.id for r in rows])

    async def _adopt(self, rows: list[Request]) -> None:
        """Rows the server answered a lookup with join the replica like any server row (the
        highest version wins), so the view can show and edit them."""
        state = self._state
        confirmed = state.view.confirmed
        batch = Batch()
        ids = []
        for row in rows:
            old = confirmed.get(row.id)
            if old is None or row.version > old.version:
                confirmed[row.id] = row
                batch.upsert(row, 0)
                ids.append(row.id)
        if not ids:
            return
        await state.writes.queue(batch)
        changed = state.view.rebuild(ids)
        if changed:
            state.view_changed(changed)

    def _start_sync(self) -> None:
        if self.config.server_url is None or self._sync is not None:
            return
        from offline.sync import SyncClient  # here: offline-only use never loads websockets

        self._sync = SyncClient(
            self.config,
            self._reconciler,
            self._presence,
            client_id=self.client_id,
            token=lambda: self._token,
        )
        self._sync.start()

    async def _promote(self) -> None:
        """The leader is gone and this process holds the lock now: sync from here."""
        state = self._state
        meta = await state.replica.reload_meta()
        await state.replica.max_rev()
        state.leader = True
        state.followed = True  # other windows may still be following this replica
        state.last_seq = state.replica.last_seq
        state.clock_offset = float(meta.get("clock_offset", "0"))
        state.number_from_outbox()
        state.set_status(follower=False, connection="offline", reason=None)
        log.info("this process now syncs the shared replica")
        self._tasks.append(asyncio.create_task(self._watch.run(), name="frontdesk-leader-watch"))
        self._start_sync()

    def _wake_push(self) -> None:
        if self._sync is not None:
            self._sync.wake_push()

    @property
    def is_leader(self) -> bool:
        """True when this process syncs the replica (False: another process does)."""
        return self._state.leader

    async def close(self) -> None:
        """Stop syncing and close the replica; pending edits stay in the outbox."""
        state = self._state
        if state.closed:
            return
        state.closed = True
        if self._loading is not None:
            self._tasks.append(self._loading)
        if self._release_task is not None:
            self._tasks.append(self._release_task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._triage is not None:
            await self._triage.close()
        if self._sync is not None:
            await self._sync.stop()
            self._sync = None
        if state.publishing is not None:
            with contextlib.suppress(Exception):
                await state.publishing
        async with state.write_lock:
            with contextlib.suppress(Exception):
                await self.settle()
            await self._reconciler.flush_sent()
            await state.replica.close()
        os.close(self._lock_fd)

    async def settle(self) -> None:
        """Wait until what the server sent so far is written to the replica (tests, close)."""
        await self._state.writes.settle()

    @property
    def writes_behind(self) -> bool:
        """True while applying the server's frames waits for the previous replica write (the
        disk is slower than the server): diagnostics, and the close-while-writing test."""
        return self._state.writes.behind

    async def sync_now(self) -> None:
        """Try to reach the server now instead of waiting for the next backoff step."""
        if self._sync is not None:
            self._sync.wake()

    def set_token(self, token: str) -> None:
        """Use a new token (after signing in again) and reconnect at once."""
        self._token = token
        if self._sync is not None:
            self._sync.wake()

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def client_id(self) -> str:
        return self._state.replica.client_id

    @property
    def used_numbers(self) -> int:
        """Mutation numbers this replica has used so far (the next one is above)."""
        return self._state.next_n - 1

    # -- reads ----------------------------------------------------------------------------------

    def requests(self) -> list[Request]:
        """Every request of the optimistic view."""
        return list(self._state.view.rows.values())

    def get(self, request_id: str) -> Request | None:
        return self._state.view.rows.get(request_id)

    def open_alerts(self) -> list[AlertRef]:
        """Every unacknowledged alert of the view, oldest first (raised here, elsewhere, or
        while this terminal was away: alerts are records in their rows)."""
        return self._state.alerts.open_alerts()

    def alerts(self, acknowledged: int = 100) -> list[AlertRef]:
        """The open alerts, oldest first, then the ``acknowledged`` most recently acknowledged
        ones (who and when in ``alert.acknowledged_by`` / ``acknowledged_at``)."""
        index = self._state.alerts
        return [*index.open_alerts(), *index.acknowledged_alerts(acknowledged)]

    @property
    def open_alert_count(self) -> int:
        """How many alerts of the view are unacknowledged (no list built)."""
        return self._state.alerts.open_count

    def is_pending(self, request_id: str) -> bool:
        """True while the request has mutations the server has not answered."""
        return self._state.outbox.has_id(request_id)

    def pending_mutations(self) -> list[PendingMutation]:
        return self._state.outbox.entries()

    def query(
        self,
        filter_text: str = "",
        statuses: Collection[str] | None = None,
        priorities: Collection[str] | None = None,
        sort_key: str = "number",
        descending: bool = False,
        *,
        categories: Collection[str] | None = None,
        assignee: str | None = None,
        room: str | None = None,
    ) -> list[str]:
        """Ids of the view's rows matching the filters, sorted (see ``offline.index``).

        Free text matches every word anywhere in number, room, category, priority, status,
        description, guest name, assignee and creator, ignoring case. ``assignee=""`` means
        unassigned. Sort keys: ``offline.index.SORT_KEYS``.
        """
        state = self._state
        if state.index is None:
            state.index = ViewIndex(state.view.rows)
        return state.index.query(
            filter_text,
            statuses,
            priorities,
            sort_key,
            descending,
            categories=categories,
            assignee=assignee,
            room=room,
        )

    def triage(self) -> Triage:
        """Category, priority and duplicate hints for a new request (``offline.triage``):
        learned from this view's rows in the background from the first call on."""
        if self._triage is None:
            self._state.check_open()
            from offline.triage.service import Triage

            self._triage = Triage(self)
        return self._triage

    @property
    def status(self) -> EngineStatus:
        return self._state.status

    def set_presence(self, viewing: str | None, editing: bool) -> None:
        """Tell the others what this user views (a request id or None) and whether they edit
        it; sent while online (coalesced), again after each reconnect (``offline.presence``)."""
        self._presence.set(viewing, editing)

    def _outbox_age(self) -> float | None:
        """Seconds the oldest queued mutation has waited (None: the outbox is empty)."""
        oldest = self._state.outbox.oldest_created_at()
        if oldest is None:
            return None
        return max(0.0, (self._state.server_now() - oldest).total_seconds())

    def presence(self) -> list[PresenceEntry]:
        """Who is online (this user included) and what each views or edits; empty offline."""
        return list(self._presence.users)

    async def fetch_stats(self) -> dict[str, Any]:
        """The server's ``/api/v1/stats`` (managers); ``ServerApiError`` with one line if not."""
        from offline import server_api  # here: the TUI's start-up never loads httpx for this

        return await server_api.fetch_stats(self._api_url(), self._token, self.client_id)

    async def fetch_history(self, request_id: str) -> list[dict[str, Any]]:
        """The server's kept change-log entries of one request, oldest first (``[]``: none)."""
        from offline import server_api

        return await server_api.fetch_history(self._api_url(), self._token, request_id)

    async def fetch_report(
        self,
        *,
        shift: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Report:
        """The server's handover report for a shift or a period (managers);
        ``ServerApiError`` with one line if not (offline: says so)."""
        from offline import server_api

        return await server_api.fetch_report(
            self._api_url(), self._token, shift=shift, since=since, until=until
        )

    def _api_url(self) -> str:
        if self.config.server_url is None:
            raise ServerApiError("offline only: no server to ask")
        return self.config.server_url

    def server_now(self) -> datetime:
        """The server's clock as best known (local clock + offset measured at ``welcome``)."""
        return self._state.server_now()

    @property
    def clock_offset(self) -> float:
        """Seconds to add to the local clock to get the server's."""
        return self._state.clock_offset

    @property
    def staff(self) -> StaffDirectory | None:
        """The staff directory the server last sent (kept in the replica); None before any."""
        return self._state.rules.staff

    @property
    def sla(self) -> SlaTable:
        """The server's SLA table as last seen (the built-in one before any ``welcome``)."""
        return self._state.rules.sla

    @property
    def alert_repeat_seconds(self) -> float:
        """How often the server rings an unacknowledged alert again, as last seen."""
        return self._state.rules.alert_repeat_seconds

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every event; returns the function that unsubscribes."""
        listeners = self._state.listeners
        listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                listeners.remove(listener)

        return unsubscribe

    # -- writes ---------------------------------------------------------------------------------

    async def create_request(
        self,
        *,
        room: str,
        category: str,
        description: str,
        priority: str,
        guest_name: str | None = None,
        assignee: str | None = None,
        request_id: str | None = None,
        due_at: datetime | str | None = None,
    ) -> Request:
        """Create a request with its final id (a UUID made here); ``due_at`` (aware) replaces
        the SLA table's deadline."""
        args: dict[str, Any] = {
            "id": request_id or str(uuid.uuid4()),
            "room": room,
            "category": _plain(category),
            "description": description,
            "priority": _plain(priority),
        }
        if guest_name is not None:
            args["guest_name"] = guest_name
        if assignee is not None:
            args["assignee"] = assignee
        if due_at is not None:
            args["due_at"] = _plain(due_at)
        return (await self._mutate("create_request", args, (args["id"],), edit=False))[0]

    async def update_request(self, request_id: str, changes: dict[str, Any]) -> Request:
        plain = {k: _plain(v) for k, v in changes.items()}
        args = {"id": request_id, "changes": plain}
        return (await self._mutate("update_request", args, (request_id,)))[0]

    async def set_status(self, request_id: str, status: str) -> Request:
        args = {"id": request_id, "status": _plain(status)}
        return (await self._mutate("set_status", args, (request_id,)))[0]

    async def assign(self, request_id: str, assignee: str | None) -> Request:
        args = {"id": request_id, "assignee": assignee}
        return (await self._mutate("assign", args, (request_id,)))[0]

    async def add_note(self, request_id: str, text: str) -> Request:
        args = {"id": request_id, "text": text}
        return (await self._mutate("add_note", args, (request_id,)))[0]

    async def acknowledge_alert(self, request_id: str, index: int) -> Request:
        """Acknowledge alert ``index`` of a request as this user, now: an edit like any other
        (offline too; it never conflicts). ``Rejected`` with the rule book's reason when this
        user may not (staff who are not the assignee); one already acknowledged stays as it
        was (the first acknowledgement is the one on record)."""
        args = {"id": request_id, "index": index}
        return (await self._mutate("acknowledge_alert", args, (request_id,)))[0]

    async def bulk_set_status(self, ids: list[str], status: str) -> list[Request]:
        args = {"ids": list(ids), "status": _plain(status)}
        return await self._mutate("bulk_set_status", args, tuple(ids), edit=False)

    async def _reissue(
        self, name: str, args: dict[str, Any], ids: tuple[str, ...]
    ) -> list[Request]:
        """The reconciler's way to queue a mutation (client-wins, merge)."""
        return await self._mutate(name, args, ids)

    async def _mutate(
        self,
        name: str,
        args: dict[str, Any],
        ids: tuple[str, ...],
        *,
        edit: bool = True,
        with_batch: Batch | None = None,
    ) -> list[Request]:
        state = self._state
        state.check_open()
        await self.loaded()  # a prediction needs the confirmed row it edits
        async with state.write_lock:
            state.check_open()
            view = state.view
            base_version = None
            if edit:
                current = view.get(ids[0])
                # The version the person saw: the server compares it with what moved since.
                base_version = current.version if current is not None else None
            mutation = PendingMutation(
                n=0,  # allocated in the outbox transaction
                name=name,
                args=args,
                base_version=base_version,
                request_ids=ids,
                created_at=state.server_now(),
            )
            predicted = view.predict(mutation)
            if isinstance(predicted, Rejection):
                raise Rejected(predicted)
            n = await state.replica.add_mutation(mutation, state.next_n, with_batch)
            state.next_n = max(state.next_n, n + 1)
            state.mine.add(n)
            state.outbox.add(mutation)
            changed = view.rebuild(ids)
        state.view_changed(changed | set(ids))
        state.refresh_status()
        self._wake_push()
        return [view.rows[i] for i in ids if i in view.rows]

    # -- conflicts parked for a person ---------------------------------------------------------

    def conflicts(self) -> list[Conflict]:
        """Parked conflicts, oldest first."""
        return sorted(self._state.conflicts.values(), key=lambda c: (c.created_at, c.id))

    async def resolve_conflict(
        self, conflict_id: str, choice: str, edited: dict[str, Any] | None = None
    ) -> Request | None:
        """Settle a parked conflict: ``"theirs"`` keeps the server's values, ``"mine"`` re-issues
        mine on the current version, ``edited`` (any choice) re-issues those values instead.

        Raises ``UnknownConflict`` for an unknown id and ``Rejected`` when the rule book refuses
        the re-issued edit now (the conflict then stays parked).
        """
        state = self._state
        state.check_open()
        conflict = state.conflicts.get(conflict_id)
        if conflict is None:
            raise UnknownConflict(f"no parked conflict {conflict_id}")
        if choice not in ("mine", "theirs"):
            raise ValueError('choice must be "mine" or "theirs"')
        unpark = Batch(unparked=[conflict_id])
        if choice == "theirs" and edited is None:
            async with state.write_lock:
                await self.settle()
                await state.replica.apply(unpark)
            state.conflicts.pop(conflict_id, None)
            state.refresh_status()
            return self.get(conflict.request_id)
        values = dict(edited) if edited is not None else dict(conflict.mine)
        name, args = mutation_for(conflict.name, conflict.request_id, values)
        rows = await self._mutate(name, args, (conflict.request_id,), with_batch=unpark)
        state.conflicts.pop(conflict_id, None)
        state.refresh_status()
        return rows[0] if rows else None


def _plain(value: Any) -> Any:
    """Enum members travel as their values, times as ISO 8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return getattr(value, "value", value)
