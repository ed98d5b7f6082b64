"""What the app does with alerts: the open list, the bell, one notice at a time, acknowledging.

Alerts are records in their rows (``Engine.open_alerts()``), so the banner, the counter and the
alerts screen show every unacknowledged alert on every terminal until someone acknowledges it,
whether it arrived live, by catch-up, or was in the replica at start. The ``alert`` frame is
the bell: it rings once per frame burst (never more often than ``BELL_GAP``); alerts a catch-up
brought ring it once when the catch-up ends. Notices never stack and never cover a form: while
one is showing, later alerts only move the counter; while a form (a modal screen) is open, the
notice waits until it closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.screen import ModalScreen
from textual.timer import Timer

from offline.alerts import AlertRef
from offline.errors import OfflineError, Rejected
from offline.events import AlertReceived
from protocol.alerts import may_acknowledge
from tui.text import plain
from tui.widgets.alert_text import kind_label, next_bell, one_line, short_line
from tui.widgets.cells import number_cell

if TYPE_CHECKING:
    from offline.engine import Engine

BELL_GAP = 2.0
"""Seconds between two rings at least: a burst of ``alert`` frames rings once, not a storm."""
NOTICE_SECONDS = 8.0
"""How long an alert notice shows; alerts arriving meanwhile only move the counter."""
HOLD_POLL = 0.5
"""How often a notice held back by an open form looks whether the form has closed."""


class AlertDesk:
    """The open alerts of the engine's view, the bell, the notices, and acknowledgements."""

    def __init__(
        self,
        app: App[Any],
        engine: Engine,
        *,
        bell: bool,
        now: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.engine = engine
        self.bell_on = bell
        self.now = now
        self.open: list[AlertRef] = []
        """Unacknowledged alerts of open requests, oldest first: what the banner, the counter
        and ``!`` are about (refreshed at each ``AlertsUpdated``)."""
        self.closed: list[AlertRef] = []
        """Unacknowledged alerts of requests completed or cancelled since: listed on the alerts
        screen, still to acknowledge, but no longer calling anyone (the server rings them no
        more either)."""
        self.rings = 0
        """Times the bell rang (``bell = false`` counts too): what tests and a log can see."""
        self.notices = 0
        """Alert notices shown so far (one per burst at most)."""
        self._last_ring = float("-inf")
        self._notice_until = float("-inf")
        self._held = 0
        """Alerts that arrived while a form was open: one notice for them when it closes."""
        self._hold_timer: Timer | None = None
        self.refresh()

    # -- what is open ---------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.open)

    @property
    def repeat_seconds(self) -> float:
        """The server's ``alert_repeat_seconds`` as the engine last heard it (``welcome``)."""
        return self.engine.alert_repeat_seconds

    def next_bell(self) -> datetime | None:
        """When the server rings again for an open alert (None: none of them rings again, or
        there is no server: an offline-only terminal never hears a bell)."""
        if self.engine.status.offline_only:
            return None
        return next_bell(self.open, self.repeat_seconds)

    def may_acknowledge(self, ref: AlertRef) -> bool:
        return may_acknowledge(ref.request, self.engine.actor)

    def oldest_mine(self) -> AlertRef | None:
        """The oldest open alert this user may acknowledge."""
        return next((ref for ref in self.open if self.may_acknowledge(ref)), None)

    def refresh(self) -> None:
        refs = self.engine.open_alerts()
        self.open = [ref for ref in refs if ref.request.is_open]
        self.closed = [ref for ref in refs if not ref.request.is_open]

    # -- what arrives ---------------------------------------------------------------------

    def bells(self, events: list[AlertReceived]) -> None:
        """``alert`` frames arrived (new alerts, or open ones ringing again)."""
        if not events:
            return
        self.ring()
        if len(events) == 1:
            event = events[0]
            r = event.request
            what = f"{kind_label(event.kind)} {number_cell(r)}"
            title = f"Still unacknowledged: {what}" if event.repeat else what
            self.announce(1, title, plain(f"Room {r.room}: {r.description}"))
        else:
            kinds = sorted({kind_label(e.kind) for e in events})
            still = " still unacknowledged" if all(e.repeat for e in events) else ""
            title = f"{len(events)} alerts{still}"
            self.announce(len(events), title, ", ".join(kinds) + self.hint())

    def changed(self, away: Iterable[tuple[str, int]]) -> None:
        """The view's alerts changed; ``away``: alerts a catch-up brought (rung here, once)."""
        self.refresh()
        still_open = {ref.key: ref for ref in self.open}
        brought = [still_open[key] for key in dict.fromkeys(away) if key in still_open]
        if not brought:
            return
        self.ring()
        if len(brought) == 1:
            self.announce(1, "Raised while away", one_line(brought[0]))
        else:
            title = f"{len(brought)} alerts raised while away"
            self.announce(len(brought), title, "oldest: " + short_line(brought[0]) + self.hint())

    def hint(self) -> str:
        return " — :alerts lists them"

    def ring(self) -> None:
        """The terminal bell, at most once per ``BELL_GAP``."""
        clock = time.monotonic()
        if clock - self._last_ring < BELL_GAP:
            return
        self._last_ring = clock
        self.rings += 1
        if self.bell_on:
            self.app.bell()

    def announce(self, count: int, title: str, text: str) -> None:
        """One notice, unless one is showing (the counter says the rest) or a form is open
        (held until it closes)."""
        if isinstance(self.app.screen, ModalScreen):
            self._held += count
            if self._hold_timer is None:
                self._hold_timer = self.app.set_interval(HOLD_POLL, self._release)
            return
        clock = time.monotonic()
        if clock < self._notice_until:
            return
        self._notice_until = clock + NOTICE_SECONDS
        self.notices += 1
        self.app.notify(text, title=title, severity="warning", markup=False, timeout=8)

    def _release(self) -> None:
        """The form closed: one notice for what arrived meanwhile (if any is still open)."""
        if isinstance(self.app.screen, ModalScreen):
            return
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        held, self._held = self._held, 0
        if held and self.open:
            title = f"{held} alert{'s' if held > 1 else ''} while the form was open"
            self.announce(held, title, f"{self.count} open" + self.hint())

    @property
    def holding(self) -> int:
        """Alerts whose notice waits for a form to close."""
        return self._held

    # -- acknowledging --------------------------------------------------------------------

    async def acknowledge(self, refs: Iterable[AlertRef]) -> tuple[int, list[str]]:
        """Acknowledge each alert through the engine (one mutation each, offline too);
        returns how many were, and the rule book's reason for each that was refused."""
        done = 0
        refused: list[str] = []
        for ref in refs:
            try:
                await self.engine.acknowledge_alert(ref.request.id, ref.index)
            except Rejected as refusal:
                refused.append(str(refusal))
            except OfflineError as error:  # the engine closed: nothing more can be recorded
                refused.append(str(error))
                break
            else:
                done += 1
        self.refresh()
        return done, refused

    def tell_refused(self, refused: list[str], tried: int) -> None:
        """Show why acknowledgements were refused, once (the rule book's words)."""
        if not refused:
            return
        reasons = list(dict.fromkeys(refused))
        title = "Refused" if tried == 1 else f"{len(refused)} of {tried} not acknowledged"
        self.app.notify(plain("; ".join(reasons)), title=title, severity="error", markup=False)
