"""One WebSocket connection: ``hello``, catch-up, then mutations, subscriptions and presence.

The reader loop validates every frame with ``protocol.wire``; a bad frame gets an ``error`` frame
and the connection stays up. Mutations go to the connection's ``Lane`` (awaiting when it is full,
so the server stops reading and TCP pushes back). Everything the server sends outside catch-up is
written without awaiting (``Hub.send``), so a slow client never holds anybody else up.

Catch-up without gaps or duplicates: the session starts buffering live changes *before* reading
the change log, reads committed pages until it reaches the end, then sends ``synced`` and the
buffered changes whose ``seq`` is above the last one sent, and only then goes live. These last steps
run without an ``await`` in between, so no change can slip through the cracks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.typing import BytesLike

from backend.accounts import Identity
from backend.hub import Hub
from backend.metrics import Metrics
from backend.store import Store
from backend.websockets_adapter import set_fast_text
from backend.writer import Lane, Writer, client_key, error_frame
from protocol import codec
from protocol.frames import (
    MAX_SERVER_FRAME,
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    Hello,
    Mutate,
    PresenceUpdate,
    Subscribe,
)
from protocol.models import Request, Role, utcnow
from protocol.wire import FrameError, decode_client_frame, dumps

log = logging.getLogger("frontdesk.session")

PAGE_BYTES = MAX_SERVER_FRAME - 64 * 1024
"""Catch-up pages stop growing past this many bytes, keeping each frame under 1 MiB."""
BUFFER_MAX = 10_000
"""Live changes buffered during catch-up before the buffer is dropped and the log re-read."""
CLIENT_ID_MAX = 64


class RateLimit:
    """A token bucket: ``rate`` per second, up to ``burst`` at once."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


ALL: frozenset[str] = frozenset({"all"})


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """The configured limits a connection works within."""

    chatter_rate: float
    chatter_burst: float
    catchup_page_size: int
    queue_per_connection: int
    snapshot_window_days: float = 14.0
    snapshot_log_entries: int = 10_000


@dataclass(frozen=True, slots=True)
class SessionParts:
    """What every connection uses, shared by all of them."""

    hub: Hub
    writer: Writer
    store: Store
    metrics: Metrics
    limits: SessionLimits
    presence_changed: Callable[[], None]
    """Someone's presence changed: everyone is told, coalesced."""
    welcome_fields: Callable[[], dict[str, Any]] = dict
    """The service's settings a ``welcome`` carries (staff directory, SLA table, alert repeat)."""


class Session:
    """The server side of one authenticated connection (slots: idle connections stay small)."""

    __slots__ = (
        "_buffer",
        "_busy",
        "_lane",
        "_overflow",
        "channels",
        "chatter",
        "client_id",
        "close_reason",
        "closing",
        "editing",
        "hello_seq",
        "identity",
        "live",
        "opened_at",
        "outbox_age",
        "parts",
        "ping_sent",
        "ping_waiter",
        "presence_at",
        "synced_seq",
        "viewing",
        "window_days",
        "ws",
    )

    system = False
    """A person's connection, never the server's own actor (``writer.SystemSession``)."""

    def __init__(self, parts: SessionParts, ws: ServerConnection, identity: Identity) -> None:
        self.parts = parts
        self.ws = ws
        self.identity = identity
        self.client_id: str | None = None
        self.live = False
        self.closing = False
        self.close_reason: str | None = None
        """Why the server closed this connection, for its one log line."""
        self.hello_seq: int | None = None
        self.channels: frozenset[str] = ALL
        self.viewing: str | None = None
        self.editing = False
        self.presence_at = 0.0
        self.outbox_age: tuple[float, float] | None = None
        """(seconds the terminal's oldest queued mutation had waited, monotonic time it said so),
        from its last ``presence``; None: nothing queued."""
        self.opened_at = time.monotonic()
        self.synced_seq = 0
        """The last seq sent by catch-up: live changes at or below it are not sent again."""
        self.window_days = parts.limits.snapshot_window_days
        """A snapshot's closed requests: those closed within this many days."""
        self.ping_waiter: asyncio.Future[float] | None = None
        self.ping_sent = 0.0
        self._lane: Lane | None = None
        self._busy = False
        """True while the reader awaits on a frame: later frames must queue behind it."""
        self.chatter = RateLimit(parts.limits.chatter_rate, parts.limits.chatter_burst)
        self._buffer: list[tuple[int, str]] | None = None
        self._overflow = False
        set_fast_text(ws, self._fast_text)

    @property
    def user(self) -> str:
        return self.identity.user

    @property
    def role(self) -> Role:
        return self.identity.role

    # -- live changes --------------------------------------------------------------------------

    def buffer_change(self, seq: int, text: str) -> None:
        """Keep a live change until catch-up ends (called by the hub while catching up)."""
        if self._overflow:
            return
        if self._buffer is None:
            self._buffer = []
        if len(self._buffer) >= BUFFER_MAX:
            self._buffer.clear()
            self._overflow = True  # everything is in the log: read it again instead
            return
        self._buffer.append((seq, text))

    def wants(self, row: Request, old: Request | None) -> bool:
        """True when a change to ``row`` (from ``old``) matches one of this session's channels."""
        for channel in self.channels:
            if channel == "all":
                return True
            for r in (row, old):
                if r is None:
                    continue
                if channel == "urgent" and r.priority == "urgent":
                    return True
                if channel.startswith("room:") and r.room == channel[5:]:
                    return True
                if channel.startswith("assignee:") and r.assignee == channel[9:]:
                    return True
        return False

    def send(self, text: str) -> None:
        self.parts.hub.send((self,), text)

    def error(self, code: str, message: str, ref: str | None = None, n: int | None = None) -> None:
        self.parts.metrics.frame_errors.labels(code).inc()
        self.send(error_frame(code, message, ref, n))

    # -- the reader loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Read frames until the connection closes."""
        try:
            async for message in self.ws:
                if self.closing:
                    continue  # the close handshake is under way; its code must win
                if isinstance(message, bytes):
                    self._bad(FrameError(ErrorCode.BINARY_FRAME, "frames must be JSON text"))
                    continue
                try:
                    frame = decode_client_frame(message)
                except FrameError as exc:
                    self._bad(exc)
                    continue
                except (ValueError, TypeError, RecursionError, OverflowError) as exc:
                    # Input the decoder did not foresee is still bad input, never a crash.
                    log.warning("event=violation kind=undecodable user=%s error=%r", self.user, exc)
                    self._bad(FrameError(ErrorCode.INVALID_JSON, "frame could not be decoded"))
                    continue
                # The common case, a mutation with room in the lane, is queued without
                # building and awaiting two coroutines per frame.
                if self._queued(frame):
                    continue
                self._busy = True
                try:
                    await self._handle(frame)
                finally:
                    self._busy = False
        except ConnectionClosed:
            pass

    def _fast_text(self, data: BytesLike) -> bool:
        """Queue a well-formed mutation straight from the frame parser, when it has room.

        Called by ``FastPathConnection`` for each complete text frame while nothing is queued
        ahead of it. Anything else (a bad frame, another type, a full lane, the first mutation
        that makes the lane, a session that is closing) returns False and takes the reader's
        path, which decodes it again and answers as always.
        """
        if self._lane is None or self._busy or self.closing:
            return False
        try:
            frame = decode_client_frame(str(data, "utf-8"))
        except Exception:  # the reader's path says what is wrong with it
            return False
        return self._queued(frame)

    def _queued(self, frame: Hello | Mutate | Subscribe | PresenceUpdate) -> bool:
        """Queue a mutation of this connection's client in its lane when there is room."""
        lane = self._lane
        return (
            lane is not None
            and type(frame) is Mutate
            and frame.client_id == self.client_id
            and lane.try_put(frame)
        )

    def _bad(self, exc: FrameError) -> None:
        """Answer a bad frame; past the chatter limit, say so and close with 1008."""
        if not self._chatter_ok():
            return
        self.error(exc.code, exc.message, exc.ref, exc.n)

    def _chatter_ok(self) -> bool:
        if self.chatter.take():
            return True
        self.error(ErrorCode.RATE_LIMITED, "too many invalid or chatter frames; closing")
        log.warning("event=violation kind=rate_limited user=%s", self.user)
        self.parts.hub.close(self, CloseCode.POLICY, "rate limited")
        return False

    async def _handle(self, frame: Hello | Mutate | Subscribe | PresenceUpdate) -> None:
        if self.client_id is None:
            if not isinstance(frame, Hello):
                self._bad(FrameError(ErrorCode.HELLO_REQUIRED, "send hello first", ref=frame.type))
                return
            if not 0 < len(frame.client_id) <= CLIENT_ID_MAX:
                self._bad(
                    FrameError(
                        ErrorCode.INVALID_FRAME,
                        f"client_id must be 1-{CLIENT_ID_MAX} characters",
                        ref="hello",
                    )
                )
                return
            await self._hello(frame)
        elif isinstance(frame, Mutate):
            if frame.client_id != self.client_id:
                self._bad(
                    FrameError(
                        ErrorCode.WRONG_CLIENT,
                        "client_id differs from the one this connection said in hello",
                        ref="mutate",
                        n=frame.n,
                    )
                )
                return
            if self._lane is None:  # made on the first mutation: most connections only read
                parts = self.parts
                self._lane = parts.writer.lane(self, parts.limits.queue_per_connection)
            await self._lane.put(frame)
        elif isinstance(frame, Subscribe):
            if self._chatter_ok():
                self.channels = frozenset(frame.channels) or ALL
                self.parts.hub.resubscribe(self)
                self.send(dumps({"type": "subscribed", "channels": sorted(self.channels)}))
        elif isinstance(frame, PresenceUpdate):
            if self._chatter_ok():
                self.viewing = frame.viewing[:64] if frame.viewing else None
                self.editing = frame.editing
                self.presence_at = time.monotonic()
                age = frame.outbox_age
                self.outbox_age = None if age is None else (age, self.presence_at)
                self.parts.presence_changed()
        else:
            self._bad(FrameError(ErrorCode.INVALID_FRAME, "hello was already received", "hello"))

    # -- hello and catch-up ----------------------------------------------------------------------

    async def _hello(self, hello: Hello) -> None:
        parts = self.parts
        store = parts.store
        self.client_id = hello.client_id
        if hello.window_days is not None:
            self.window_days = hello.window_days
        parts.hub.begin_catch_up(self)
        last_mutation = await store.last_mutation(client_key(self.user, hello.client_id))
        welcome = {
            "type": "welcome",
            "v": PROTOCOL_VERSION,
            "server_id": store.server_id,
            "instance": store.instance_id,
            "user": {"name": self.user, "role": self.role.value},
            "seq": store.state.head_seq,
            "last_mutation": last_mutation,
            "server_time": utcnow().isoformat().replace("+00:00", "Z"),
            **parts.welcome_fields(),
        }
        await self.ws.send(dumps(welcome))
        self.hello_seq = hello.last_seq
        last = hello.last_seq
        if last > store.state.head_seq:
            await store.follow()  # another instance may have committed what this one lags
        # A log this server never had (restored from backup?), or a new terminal where the
        # kept log is long: the working set, not a month of log.
        log_length = store.state.head_seq - store.state.compacted_through
        new_terminal = last == 0 and log_length > parts.limits.snapshot_log_entries
        if last > store.state.head_seq or new_terminal:
            last = await self._send_snapshot()
        last = await self._send_changes(last)
        # No await from here on: the buffered changes and going live happen atomically.
        self.send(dumps({"type": "synced", "seq": last}))
        for seq, text in self._buffer or ():
            if seq > last:
                self.send(text)
                last = seq
        self._buffer = None
        self.synced_seq = last
        parts.hub.go_live(self)
        parts.presence_changed()

    async def _send_snapshot(self) -> int:
        """Send the working set in ``snapshot`` pages; returns the seq it reflects.

        The working set: every open request (from memory, as of ``seq``) and those closed
        within ``window_days`` (read from the store page by page, so possibly newer than
        ``seq``: the replica keeps the highest version of a row, and the log after ``seq``
        brings everything else). Older closed requests stay on the server, for lookups.
        """
        store = self.parts.store
        seq = store.state.head_seq
        limit = self.parts.limits.catchup_page_size
        since = time.time() - self.window_days * 86400
        page: list[str] = []
        size = 0

        async def add(data: str) -> None:
            nonlocal page, size
            page.append(data)
            size += len(data) + 1
            if len(page) >= limit or size >= PAGE_BYTES:
                await self.ws.send(codec.snapshot_page(page, seq, True))
                page, size = [], 0

        for row in store.state.requests.open_rows():
            await add(row.model_dump_json())
        after = (since, 0)
        while True:
            closed = await store.closed_since(since, after, limit)
            for _updated, _number, data in closed:
                await add(data)
            if len(closed) < limit:
                break
            after = closed[-1][0], closed[-1][1]
        await self.ws.send(codec.snapshot_page(page, seq, False))
        return seq

    async def _send_changes(self, last: int) -> int:
        """Send committed log entries after ``last`` in pages; returns the last seq sent.

        ``seq`` has no gaps, so a page that does not start right after ``last`` means the log
        was compacted meanwhile (by this instance or another): a snapshot replaces the pages.
        """
        store = self.parts.store
        limit = self.parts.limits.catchup_page_size
        while True:
            if last < store.state.compacted_through:
                last = await self._send_snapshot()
            entries = await store.read_changes(last, limit)
            if (entries and entries[0][0] != last + 1) or (
                not entries and last < store.state.head_seq
            ):
                last = await self._send_snapshot()
                continue  # compacted under our feet: entries are missing
            full = len(entries) >= limit
            page: list[tuple[int, str]] = []
            size = 0
            for i, (seq, data) in enumerate(entries):
                page.append((seq, data))
                size += len(data) + 32
                if size >= PAGE_BYTES or i == len(entries) - 1:
                    more = full or i < len(entries) - 1
                    await self.ws.send(codec.changes_page(page, more))
                    page, size = [], 0
                last = seq
            if full:
                continue
            if self._overflow:  # the live buffer overflowed while we read: read again
                self._overflow = False
                continue
            return last
