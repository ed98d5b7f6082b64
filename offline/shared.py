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
from typing import TYPE_CHECKING, Any

from offline.conflicts import Conflict
from offline.events import AlertReceived, ConflictParked, EngineEvent, MutationRejected
from offline.replica import Batch
from offline.rows import compact
from protocol import Request

if TYPE_CHECKING:
    from offline.engine import Engine

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
        body = {"kind": "alert", "alert": event.kind, "request": event.request.to_wire()}
        return None, json.dumps(body, ensure_ascii=False)
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
        return AlertReceived(body["alert"], Request.model_validate(body["request"]))
    return None


class Follower:
    """Keeps a follower engine's memory in step with the shared replica file."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen_version: int | None = None
        self.seen_rev = 0
        self.seen_notice = 0

    async def prime(self) -> None:
        replica = self.engine._replica
        # Say hello (any commit will do): the leader starts sharing its connection state.
        await replica.apply(Batch(meta={"follower_hello": str(time.time())}))
        self.seen_rev = replica.rev
        self.seen_notice = await replica.last_notice()
        self.seen_version = await replica.data_version()
        self.engine._apply_leader_status(replica.meta)

    async def run(self) -> None:
        """Follow until the leader's lock is free, then become the leader."""
        engine = self.engine
        while True:
            try:
                if try_lock(engine._lock_fd):
                    await self.refresh()
                    await engine._promote()
                    return
                version = await engine._replica.data_version()
                if version != self.seen_version:
                    await self.refresh()
                    self.seen_version = version
            except (sqlite3.Error, ValueError) as exc:  # busy or half-written: next poll
                log.warning("following the shared replica: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    async def refresh(self) -> None:
        """Reload what the leader (or another follower) changed in the file."""
        engine = self.engine
        replica = engine._replica
        view = engine._view
        touched: set[str] = set()
        datas, self.seen_rev = await replica.rows_touched_after(self.seen_rev)
        for data in datas:
            row = compact(Request.model_validate_json(data))
            old = view.confirmed.get(row.id)
            if old is None or row.version >= old.version:
                view.confirmed[row.id] = row
                touched.add(row.id)
        # Numbers are handed out under SQLite's write lock, so rows added since the last look
        # all sit above the highest one known; answered rows are simply missing now.
        outbox = engine._outbox
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
        for conflict_id in set(engine._conflicts) - set(parked):
            del engine._conflicts[conflict_id]
        for conflict_id, data in parked.items():
            if conflict_id not in engine._conflicts:
                conflict = Conflict.from_json(data)
                engine._conflicts[conflict_id] = conflict
                events.append(ConflictParked(conflict.id, conflict.request_id))
        for notice_id, n, data in await replica.load_notices(self.seen_notice):
            self.seen_notice = notice_id
            with contextlib.suppress(ValueError, KeyError, TypeError):
                event = event_for(data)
                if isinstance(event, MutationRejected) and n not in engine._mine:
                    continue  # somebody else's window at this terminal already said it
                if event is not None:
                    events.append(event)
        engine._apply_leader_status(await replica.reload_meta())
        changed = view.rebuild(touched) if touched else set()
        if changed:
            engine._view_changed(changed)
        for event in events:
            engine._emit(event)
        engine._refresh_status()


class LeaderWatch:
    """Lets a leader notice edits that follower processes queued in the shared outbox."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def run(self) -> None:
        engine = self.engine
        engine._seen_version = await engine._replica.data_version()
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
        engine = self.engine
        version = await engine._replica.data_version()
        if version == engine._seen_version:
            return False
        await self.adopt()
        engine._seen_version = version
        if not engine._followed:
            engine._followed = True  # a follower said hello: share the connection state now
            engine._publish_status()
        return True

    async def adopt(self) -> None:
        """Take into memory the outbox rows another process added (and push them)."""
        engine = self.engine
        async with engine._write_lock:
            await engine.settle()
            answered, engine._answered_recently = engine._answered_recently, set()
            on_disk = await engine._replica.outbox_numbers()
            missing = on_disk - engine._outbox.numbers() - answered
            entries = await engine._replica.load_outbox(after=min(missing) - 1) if missing else []
            touched: set[str] = set()
            for entry in entries:
                if entry.n not in engine._outbox and entry.n not in answered:
                    engine._outbox.add(entry)
                    engine._next_n = max(engine._next_n, entry.n + 1)
                    touched.update(entry.request_ids)
            changed = engine._view.rebuild(touched) if touched else set()
        if touched:
            engine._view_changed(changed | touched)
            engine._refresh_status()
            if engine._sync is not None:
                engine._sync.wake_push()


def open_lock(path: os.PathLike[str]) -> tuple[int, bool]:
    """The lock file's descriptor, and whether this process got the leader's lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd, try_lock(fd)
