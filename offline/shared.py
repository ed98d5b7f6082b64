"""Two processes on one data directory: one leader syncs, the others follow the replica file.

The leader holds an exclusive ``flock`` on ``replica.lock`` and is the only one that talks to
the server and writes confirmed rows. A follower reads the replica: every ``POLL_SECONDS`` it
asks SQLite whether another connection committed (``PRAGMA data_version``) and, if so, reloads
the rows stamped since the last look, the outbox, the parked conflicts and the notices
(rejections and alerts the leader recorded). A follower's own edits go into the shared outbox
(``n`` allocated inside the SQLite write transaction, so numbers never repeat); the leader
notices them the same way and pushes them. When the leader dies its lock goes with it and the
follower's next poll takes the lock and becomes the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from offline.conflicts import Conflict
from offline.events import AlertReceived, ConflictParked, EngineEvent, MutationRejected
from offline.replica import Batch
from offline.server_rules import ServerRules
from offline.state import EngineState
from protocol import Request
from protocol.pydantic_adapter import compact

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
"""How often a follower looks at the file (changes show within ~0.3 s, takeover within ~0.5 s)."""


def try_lock(fd: int) -> bool:
    """Take the leader's lock if nobody holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def notice_for(event: EngineEvent) -> tuple[int | None, str] | None:
    """What a leader records so followers can show a rejection or an alert too."""
    if isinstance(event, MutationRejected):
        body = {
            "kind": "rejected",
            "name": event.name,
            "request_id": event.request_id,
            "code": event.code,
            "message": event.message,
            "fields": event.fields,
        }
        return event.n, json.dumps(body, ensure_ascii=False)
    if isinstance(event, AlertReceived):
        bell: dict[str, Any] = {
            "kind": "alert",
            "alert": event.kind,
            "request": event.request.to_wire(),
            "index": event.index,
            "repeat": event.repeat,
        }
        return None, json.dumps(bell, ensure_ascii=False)
    return None


def event_for(data: str) -> EngineEvent | None:
    body: dict[str, Any] = json.loads(data)
    if body.get("kind") == "rejected":
        return MutationRejected(
            name=body["name"],
            request_id=body.get("request_id"),
            code=body["code"],
            message=body["message"],
            fields=dict(body.get("fields") or {}),
        )
    if body.get("kind") == "alert":
        return AlertReceived(
            body["alert"],
            Request.model_validate(body["request"]),
            body.get("index"),
            body.get("repeat") is True,
        )
    return None


class Follower:
    """Keeps a follower engine's memory in step with the shared replica file."""

    def __init__(
        self, state: EngineState, lock_fd: int, promote: Callable[[], Awaitable[None]]
    ) -> None:
        self._state = state
        self._lock_fd = lock_fd
        self._promote = promote
        """Called once this process took the leader's lock: sync from here."""
        self._seen_version: int | None = None
        self._seen_rev = 0
        self._seen_notice = 0

    async def prime(self) -> None:
        replica = self._state.replica
        # Say hello (any commit will do): the leader starts sharing its connection state.
        await replica.apply(Batch(meta={"follower_hello": str(time.time())}))
        self._seen_rev = replica.rev
        self._seen_notice = await replica.last_notice()
        self._seen_version = await replica.data_version()
        self._state.apply_leader_status(replica.meta)

    async def run(self) -> None:
        """Follow until the leader's lock is free, then become the leader."""
        replica = self._state.replica
        while True:
            try:
                if try_lock(self._lock_fd):
                    await self.refresh()
                    await self._promote()
                    return
                version = await replica.data_version()
                if version != self._seen_version:
                    await self.refresh()
                    self._seen_version = version
            except (sqlite3.Error, ValueError) as exc:  # busy or half-written: next poll
                log.warning("following the shared replica: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    async def refresh(self) -> None:
        """Reload what the leader (or another follower) changed in the file."""
        state = self._state
        replica = state.replica
        view = state.view
        touched: set[str] = set()
        datas, self._seen_rev = await replica.rows_touched_after(self._seen_rev)
        for data in datas:
            row = compact(Request.model_validate_json(data))
            old = view.confirmed.get(row.id)
            if old is None or row.version >= old.version:
                view.confirmed[row.id] = row
                touched.add(row.id)
        # Numbers are handed out under SQLite's write lock, so rows added since the last look
        # all sit above the highest one known; answered rows are simply missing now.
        outbox = state.outbox
        known = outbox.numbers()
        on_disk = await replica.outbox_numbers()
        for n in known - on_disk:
            gone = outbox.remove(n)
            if gone is not None:
                view.forget(n)
                touched.update(gone.request_ids)
        for entry in await replica.load_outbox(after=max(known, default=0)):
            if entry.n not in outbox and entry.n in on_disk:
                outbox.add(entry)
                touched.update(entry.request_ids)
        events: list[EngineEvent] = []
        parked = {c["id"]: c for c in await replica.load_parked()}
        conflicts = state.conflicts
        for conflict_id in set(conflicts) - set(parked):
            del conflicts[conflict_id]
        for conflict_id, body in parked.items():
            if conflict_id not in conflicts:
                conflict = Conflict.from_json(body)
                conflicts[conflict_id] = conflict
                events.append(ConflictParked(conflict.id, conflict.request_id))
        for notice_id, notice_n, notice in await replica.load_notices(self._seen_notice):
            self._seen_notice = notice_id
            with contextlib.suppress(ValueError, KeyError, TypeError):
                event = event_for(notice)
                if isinstance(event, MutationRejected) and notice_n not in state.mine:
                    continue  # somebody else's window at this terminal already said it
                if event is not None:
                    events.append(event)
        meta = await replica.reload_meta()
        state.apply_leader_status(meta)
        touched |= state.adopt_rules(ServerRules.from_meta(meta))  # the leader's last welcome
        changed = view.rebuild(touched) if touched else set()
        if changed:
            state.view_changed(changed)
        for event in events:
            state.emit(event)
        state.refresh_status()


class LeaderWatch:
    """Lets a leader notice edits that follower processes queued in the shared outbox."""

    def __init__(self, state: EngineState, wake_push: Callable[[], None]) -> None:
        self._state = state
        self._wake_push = wake_push
        """Called when adopted rows wait to be pushed."""
        self._seen_version: int | None = None
        """``PRAGMA data_version`` when the outbox was last read from the file."""

    async def run(self) -> None:
        self._seen_version = await self._state.replica.data_version()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.check()
            except (sqlite3.Error, ValueError) as exc:
                log.warning("reading edits queued by other processes: %s", exc)

    async def check(self) -> bool:
        """Adopt foreign outbox rows if another process committed; True when it did commit.

        The pusher calls this after choosing what to send: a follower's row with a lower ``n``
        was committed before those were numbered, so it is seen here and goes out first.
        """
        state = self._state
        version = await state.replica.data_version()
        if version == self._seen_version:
            return False
        await self._adopt()
        self._seen_version = version
        if not state.followed:
            state.followed = True  # a follower said hello: share the connection state now
            state.publish_status()
        return True

    async def _adopt(self) -> None:
        """Take into memory the outbox rows another process added (and push them)."""
        state = self._state
        outbox = state.outbox
        async with state.write_lock:
            await state.writes.settle()
            answered, state.answered_recently = state.answered_recently, set()
            on_disk = await state.replica.outbox_numbers()
            missing = on_disk - outbox.numbers() - answered
            entries = await state.replica.load_outbox(after=min(missing) - 1) if missing else []
            touched: set[str] = set()
            for entry in entries:
                if entry.n not in outbox and entry.n not in answered:
                    outbox.add(entry)
                    state.next_n = max(state.next_n, entry.n + 1)
                    touched.update(entry.request_ids)
            changed = state.view.rebuild(touched) if touched else set()
        if touched:
            state.view_changed(changed | touched)
            state.refresh_status()
            self._wake_push()


def open_lock(path: os.PathLike[str]) -> tuple[int, bool]:
    """The lock file's descriptor, and whether this process got the leader's lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd, try_lock(fd)
