"""The triage assistant of one engine: the model and the open requests, kept current.

Built off the UI: ``Triage`` learns the view's rows in an asyncio task, ``CHUNK`` rows between
two yields to the event loop (about 3 ms each), and then follows the engine's ``ViewChanged``
events (the listener only notes the ids; the task learns them). Answers are read from what is
learned so far: while a big replica is still being learned, the rule table and the rows
learned already answer, and the open requests are indexed first (a duplicate matters more
than a better guess).

It needs only the engine's public reads (``requests``, ``get``, ``subscribe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from offline.events import EngineEvent, ViewChanged
from offline.rows import settle_heap
from offline.triage.assistant import Suggestion, TriageModel
from offline.triage.duplicates import OpenRequests
from protocol import Request

log = logging.getLogger(__name__)

CHUNK = 64
"""Rows learned between two yields to the event loop: about 3 ms of CPU (50 µs a row on this
machine), so a key typed while a big replica is learned waits no longer than that."""
OPEN_CHUNK = 2048
"""Rows looked at for the open-requests index between two yields (a status test each)."""


class RowSource(Protocol):
    """What the triage assistant reads from the engine."""

    def requests(self) -> list[Request]: ...

    def get(self, request_id: str) -> Request | None: ...

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]: ...


class Triage:
    """Suggestions and duplicates over an engine's rows (see the module's docstring)."""

    def __init__(self, source: RowSource) -> None:
        self._source = source
        self.model = TriageModel()
        self.open = OpenRequests()
        self._changed: set[str] = set()
        self._wake = asyncio.Event()
        self._built = asyncio.Event()
        self._idle = asyncio.Event()
        """Set while every announced change is learned."""
        self._unsubscribe = source.subscribe(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="frontdesk-triage")

    # -- answers (synchronous: a keystroke's worth of work) ------------------------------------

    def suggest(self, description: str) -> Suggestion | None:
        """Category and priority for a description being typed (None: nothing to say yet)."""
        return self.model.suggest(description)

    def duplicate(self, room: str, description: str) -> Request | None:
        """An open request of ``room`` that ``description`` seems to repeat, if any."""
        return self.open.similar(room, description)

    @property
    def ready(self) -> bool:
        """True once every row the engine held at the start has been learned."""
        return self._built.is_set()

    async def built(self) -> None:
        """Wait until the first pass over the engine's rows is done."""
        await self._built.wait()

    async def settled(self) -> None:
        """Wait until every change announced so far is learned (tests, benchmarks)."""
        await self._built.wait()
        await self._idle.wait()

    async def close(self) -> None:
        self._unsubscribe()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    # -- learning ------------------------------------------------------------------------------

    def _on_event(self, event: EngineEvent) -> None:
        if isinstance(event, ViewChanged):
            self._changed.update(event.ids)
            self._idle.clear()
            self._wake.set()

    async def _run(self) -> None:
        try:
            rows = self._source.requests()
            for start in range(0, len(rows), OPEN_CHUNK):
                for row in rows[start : start + OPEN_CHUNK]:
                    self.open.update(row.id, row)
                await asyncio.sleep(0)
            for start in range(0, len(rows), CHUNK):
                for row in rows[start : start + CHUNK]:
                    self.model.learn(row.id, row)
                await asyncio.sleep(0)
            del rows
            settle_heap()  # as after the engine's own loads: full collections skip the model
            self._built.set()
            while True:
                if not self._changed:
                    self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                while self._changed:
                    batch = [self._changed.pop() for _ in range(min(CHUNK, len(self._changed)))]
                    for rid in batch:
                        current = self._source.get(rid)
                        self.open.update(rid, current)
                        self.model.learn(rid, current)
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception:  # suggestions are a help: never take the engine down with them
            log.exception("the triage assistant stopped learning")
            self._built.set()
            self._idle.set()
