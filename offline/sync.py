"""The WebSocket sync client: connect, catch up, push the outbox, follow live changes.

One task runs the connection loop: ``hello`` → ``welcome`` → catch-up pages → ``synced``, then
the outbox is pushed in ``n`` order with a window of mutations in flight while frames are read
and applied in bursts (one transaction per burst). When the connection fails it waits with
exponential backoff and full jitter (0.2 s doubling to a 5 s cap, reset once synced) or until
``wake()``; a refused token stops the loop until a new token or ``sync_now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from offline.config import EngineConfig
from offline.events import Connection
from offline.outbox import PendingMutation
from offline.presence import PresenceLink
from offline.reconcile import FrameOutcome
from offline.session import ws_url
from offline.websockets_adapter import abort, send_frames
from protocol import Request, utcnow
from protocol.codec import LiveRow, Page, decode_server_frame, read_for_client
from protocol.frames import Presence, Welcome
from protocol.wire import ServerFrame

log = logging.getLogger(__name__)

MAX_BURST = 2000
"""Most frames applied in one transaction."""
INBOX_BYTES = 8 * 1024 * 1024
"""Frame bytes read ahead of the applier; past it the reader waits (TCP pushes back). A byte
budget, not a frame count: catch-up pages are up to 1 MiB, acks a few hundred bytes."""
YIELD_BYTES = 256 * 1024
"""Frame bytes decoded between two turns of the event loop (~4 ms of validation). The previous
burst's replica write is a task that needs a loop turn between its statements (BEGIN, the
upserts, COMMIT, each run in aiosqlite's thread): without these turns it stalled while a whole
burst of catch-up pages was decoded, and the two could not overlap on two cores."""
WELCOME_TIMEOUT = 15.0
"""Seconds to wait for ``welcome`` after ``hello`` before giving up on the connection."""
PING_INTERVAL = 5.0
PING_TIMEOUT = 10.0


class _Closed:
    """Marks the end of the frame stream (with why it ended)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Inbox:
    """Frames between the reader and the applier, bounded by their total size."""

    def __init__(self, budget: int) -> None:
        self.items: deque[str | bytes | _Closed] = deque()
        self.size = 0
        self.budget = budget
        self.ready = asyncio.Event()
        self.room = asyncio.Event()

    async def put(self, item: str | bytes | _Closed) -> None:
        while self.size > self.budget:
            self.room.clear()
            await self.room.wait()
        self.items.append(item)
        self.size += len(item) if isinstance(item, str | bytes) else 0
        self.ready.set()

    async def take(self, limit: int) -> list[str | bytes | _Closed]:
        """Everything waiting (at least one item, at most ``limit``)."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        taken: list[str | bytes | _Closed] = []
        while self.items and len(taken) < limit:
            item = self.items.popleft()
            self.size -= len(item) if isinstance(item, str | bytes) else 0
            taken.append(item)
        self.room.set()
        return taken


class SyncFailed(Exception):
    """This connection ended; ``reason`` is shown while offline."""

    def __init__(
        self, reason: str, *, auth: bool = False, synced: bool = False, token: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.auth = auth
        self.synced = synced
        self.token = token
        """The server refused the token (401): only signing in again helps."""


class SyncPeer(Protocol):
    """What the sync client asks of the engine's side (``offline.reconcile.Reconciler``)."""

    def hello(self) -> str:
        """The ``hello`` frame's text."""
        ...

    async def on_welcome(self, welcome: Welcome, sent_at: datetime) -> bool:
        """Record what ``welcome`` says; False: the server was replaced, start over."""
        ...

    def take_unsent(self, limit: int) -> list[PendingMutation]:
        """Up to ``limit`` unanswered mutations not on the wire yet, in ``n`` order (marked)."""
        ...

    def untake(self, mutations: list[PendingMutation]) -> None:
        """Put back mutations taken but not sent."""
        ...

    async def foreign_outbox_rows(self) -> bool:
        """True (after adopting them) when another process queued edits meanwhile."""
        ...

    def disconnected(self) -> None:
        """Nothing is on the wire any more: everything unanswered goes again next time."""
        ...

    def set_connection(
        self, connection: Connection, reason: str | None = None, **more: Any
    ) -> None:
        """Show the connection state (``more``: other ``EngineStatus`` fields)."""
        ...

    def set_rtt(self, rtt_ms: float | None) -> None: ...

    async def apply_frames(self, frames: list[ServerFrame | Page | LiveRow]) -> FrameOutcome:
        """Apply a burst of server frames; what it asks of the connection comes back."""
        ...

    @property
    def reconnects(self) -> int:
        """Successful connections after the first one, so far."""
        ...


class SyncClient:
    """Keeps one engine in sync with its server for as long as it runs."""

    def __init__(
        self,
        config: EngineConfig,
        peer: SyncPeer,
        presence: PresenceLink,
        *,
        client_id: str,
        token: Callable[[], str | None],
    ) -> None:
        assert config.server_url is not None
        self.url = ws_url(config.server_url)
        self.window = max(1, config.push_window)
        self.base = config.backoff_base
        self.cap = config.backoff_cap
        self._peer = peer
        self._presence = presence
        self._client_id = client_id
        self._token = token
        """The sign-in token to connect with (read at each connection: it may be renewed)."""
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._push_wake = asyncio.Event()
        self._stopping = False
        self._ws: ClientConnection | None = None
        self._inflight = 0
        self._connections = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frontdesk-sync")

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called (the run loop reads it after each await)."""
        return self._stopping

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._peer.disconnected()

    def wake(self) -> None:
        """Try now: cuts the backoff wait short."""
        self._wake.set()
        self._push_wake.set()

    def wake_push(self) -> None:
        self._push_wake.set()

    # -- the connection loop --------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            self._peer.set_connection("connecting", None, needs_sign_in=False)
            refused = False
            try:
                await self._connection()
                reason, auth = "connection closed", False
                failures = 0
            except SyncFailed as failed:
                reason, auth, refused = failed.reason, failed.auth, failed.token
                if failed.synced:
                    failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop syncing for good
                log.exception("sync connection failed")
                reason, auth = f"sync error: {exc}", False
            finally:
                self._ws = None
                self._inflight = 0
                self._peer.disconnected()
            if self.stopping:  # set by stop() while this task awaited
                return
            self._peer.set_connection(
                "offline", reason, rtt_ms=None, catching_up=False, needs_sign_in=refused
            )
            failures += 1
            if auth:
                # The token will not get better by retrying: wait for a new one or "sync now".
                await self._wake.wait()
                continue
            delay = random.uniform(0, min(self.cap, self.base * 2 ** (failures - 1)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _connection(self) -> None:
        token = self._token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                compression=None,
                max_size=None,
                proxy=None,
                open_timeout=10,
                ping_interval=PING_INTERVAL,
                ping_timeout=PING_TIMEOUT,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise SyncFailed(
                    "the server refused the sign-in token (expired or revoked): sign in again",
                    auth=True,
                    token=True,
                ) from None
            raise SyncFailed(f"server at {self.url} answered HTTP {status}") from None
        except InvalidURI as exc:
            raise SyncFailed(f"bad server address: {exc}", auth=True) from None
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            raise SyncFailed(f"cannot reach server at {self.url}: {_say(exc)}") from None
        self._ws = ws
        synced = False
        try:
            synced = await self._converse(ws)
        except ConnectionClosed as exc:
            raise SyncFailed(f"connection lost: {_say(exc)}", synced=synced) from None
        except (OSError, TimeoutError) as exc:
            raise SyncFailed(f"connection lost: {_say(exc)}", synced=synced) from None
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)

    async def _converse(self, ws: ClientConnection) -> bool:
        peer = self._peer
        sent_at = utcnow()
        await ws.send(peer.hello())
        try:
            answer = await asyncio.wait_for(ws.recv(), WELCOME_TIMEOUT)
        except TimeoutError:
            raise SyncFailed("the server did not answer hello") from None
        try:
            first = decode_server_frame(answer)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise SyncFailed(f"server did not welcome us: {str(exc)[:200]}") from None
        if not isinstance(first, Welcome):
            said = getattr(first, "message", None) or first.model_dump_json()
            raise SyncFailed(f"server did not welcome us: {said}")
        if not await peer.on_welcome(first, sent_at):
            raise SyncFailed("server was replaced: starting over", synced=True)
        inbox = _Inbox(INBOX_BYTES)
        reader = asyncio.create_task(self._read(ws, inbox), name="frontdesk-sync-read")
        pusher: asyncio.Task[None] | None = None
        pinger = asyncio.create_task(self._ping(ws), name="frontdesk-sync-ping")
        presence = asyncio.create_task(self._presence.run(ws.send), name="frontdesk-presence")
        synced = False
        recent: dict[str, Request] = {}
        try:
            while True:
                items = await inbox.take(MAX_BURST)
                frames: list[ServerFrame | Page | LiveRow] = []
                closed: _Closed | None = None
                unyielded = 0
                items.reverse()  # popped as decoded: a page's text goes once its rows are read
                while items:
                    raw = items.pop()
                    if isinstance(raw, _Closed):
                        closed = raw
                        break
                    if unyielded >= YIELD_BYTES:
                        unyielded = 0
                        await asyncio.sleep(0)
                    unyielded += len(raw)
                    frame = _decode(raw, recent)
                    if isinstance(frame, Presence):
                        self._presence.received(frame)
                    elif frame is not None:
                        frames.append(frame)
                if frames:
                    outcome = await peer.apply_frames(frames)
                    self._inflight = max(0, self._inflight - outcome.answered)
                    if outcome.synced and not synced:
                        synced = True
                        if self._connections:
                            peer.set_connection("online", None, reconnects=self._reconnects())
                        else:
                            peer.set_connection("online", None)
                        self._connections += 1
                        pusher = asyncio.create_task(self._push(ws), name="frontdesk-sync-push")
                        pusher.add_done_callback(functools.partial(_drop_on_failure, ws))
                    if outcome.retry_later:
                        raise SyncFailed(outcome.retry_later, synced=synced)
                    self._push_wake.set()
                if closed is not None:
                    raise SyncFailed(closed.reason, synced=synced)
                if pusher is not None and pusher.done():
                    pusher.result()  # raises what stopped it
        finally:
            for task in (reader, pusher, pinger, presence):
                if task is not None:
                    task.cancel()
            for task in (reader, pusher, pinger, presence):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    def _reconnects(self) -> int:
        return self._peer.reconnects + 1

    async def _read(self, ws: ClientConnection, inbox: _Inbox) -> None:
        reason = "connection closed"
        try:
            async for message in ws:
                await inbox.put(message)
        except ConnectionClosed as exc:
            reason = f"connection lost: {_say(exc)}"
        except Exception as exc:
            reason = f"connection lost: {_say(exc)}"
        else:
            reason = f"connection closed: {_say_close(ws)}"
        await inbox.put(_Closed(reason))

    async def _push(self, ws: ClientConnection) -> None:
        """Send the outbox in ``n`` order, at most ``window`` unanswered at a time."""
        peer = self._peer
        client_id = self._client_id
        while True:
            room = self.window - self._inflight
            batch = peer.take_unsent(room) if room > 0 else []
            if not batch:
                self._push_wake.clear()
                await self._push_wake.wait()
                continue
            if await peer.foreign_outbox_rows():
                # Another window queued edits numbered before these: send in n order.
                peer.untake(batch)
                continue
            self._inflight += len(batch)
            await send_frames(ws, [mutation.to_text(client_id) for mutation in batch])

    async def _ping(self, ws: ClientConnection) -> None:
        """Keep the round-trip time fresh for the status bar."""
        while True:
            await asyncio.sleep(PING_INTERVAL)
            latency = ws.latency
            self._peer.set_rtt(round(latency * 1000, 1) if latency else None)


def _drop_on_failure(ws: ClientConnection, pusher: asyncio.Task[None]) -> None:
    """A pusher that failed must not leave the outbox waiting on a frame that may never come
    (its failure is otherwise noticed only when the server next sends something): drop the
    connection, so the sync loop reconnects after its back-off and sends again."""
    failure = None if pusher.cancelled() else pusher.exception()
    if failure is None:
        return
    log.warning("sending the outbox failed, reconnecting: %s", _say(failure))
    abort(ws)


def _decode(raw: str | bytes, recent: dict[str, Request]) -> ServerFrame | Page | LiveRow | None:
    """A validated server frame (``protocol.codec.read_for_client``), or None for one this
    client cannot read (logged)."""
    try:
        return read_for_client(raw, recent)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        log.warning("ignoring a server frame this client cannot read: %s", str(exc)[:200])
        return None


def _say(exc: BaseException) -> str:
    """The reason in a night clerk's words where we know them, the library's otherwise."""
    if isinstance(exc, ConnectionRefusedError):
        return "the server is not running (connection refused)"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc)
    return text if text else type(exc).__name__


def _say_close(ws: ClientConnection) -> str:
    code = ws.close_code
    reason = ws.close_reason
    if code is None:
        return "no close frame"
    return f"code {code}" + (f" ({reason})" if reason else "")
