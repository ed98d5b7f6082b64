"""FrontdeskApp: the terminal app for a hotel front desk.

``FrontdeskApp(EngineConfig(...)).run()`` opens the local replica (fast, no network), starts
syncing in the background and shows the queue at once, from whatever the replica holds: the
app works the same with the server down. ``run_test()`` and ``save_screenshot()`` work headless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from offline.engine import Engine, EngineConfig
from offline.errors import OfflineError
from offline.events import AlertReceived, AlertsChanged, MutationRejected, StatusChanged
from offline.session import clear_session
from protocol.models import utcnow
from tui.alert_desk import AlertDesk
from tui.keys_in_order import KeysInOrderApp
from tui.messages import AlertArrived, AlertsUpdated, EditRejected, EngineStatusChanged, bridge
from tui.queue_model import QUICK_VIEWS
from tui.screens.help import HelpScreen
from tui.screens.queue import QueueScreen
from tui.screens.sign_in import SignInScreen, needs_sign_in
from tui.text import plain

FIRST_ROWS = 1000
"""Rows of the replica loaded before the first paint; the rest load right after it."""
OPENING_NOTICE_AFTER = 0.3
"""Seconds the replica may take to open before the screen says it is opening. Painting the
notice at once made every start slower: while the main thread paints, the SQLite thread waits
for the GIL between statements (first paint at 100,000 rows: ~230 → ~185 ms without it)."""


class FrontdeskApp(KeysInOrderApp[int]):
    """Queue, detail, forms and alerts over one offline-first engine."""

    CSS_PATH = "app.tcss"
    TITLE = "frontdesk"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    """Screens get these classes by terminal size: app.tcss tightens forms and panels on a
    short or narrow terminal (80x24 is common at front desks)."""
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    alert_count: reactive[int] = reactive(0, always_update=True)
    """Unacknowledged alerts in the replica (title counter, banner and status bar watch it;
    set at every change of the alerts, even when the count stays)."""

    def __init__(
        self,
        engine_config: EngineConfig,
        *,
        keymap: dict[str, str] | None = None,
        bell: bool = True,
        theme: str | None = None,
        remember_theme: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        """``keymap``, ``bell`` and ``theme`` come from the TUI settings
        (``frontdesk.tui_settings``); ``remember_theme`` saves a theme picked in the app there
        (None: a picked theme lasts until quit, as in tests)."""
        super().__init__(**kwargs)
        self.engine_config = engine_config
        self.engine: Engine | None = None
        self.bell_on_alert = bell
        """Ring the terminal bell on each new alert (configurable; off in quiet lobbies)."""
        self._clock = clock
        """The server time SLAs are judged and shown by; None: the engine's estimate. A fixed
        clock makes screens that show countdowns reproducible (snapshot tests, screenshots)."""
        self.alert_desk: AlertDesk | None = None
        """Open alerts, bell and notices (``tui.alert_desk``), once the engine is open."""
        self._keymap = keymap or {}
        self._unsubscribe: Callable[[], None] = lambda: None
        self._asking_sign_in = False
        self._sign_in_declined = False
        """Esc on the sign-in dialog: work offline without being asked again until online."""
        self._start_theme = theme
        self._remember_theme = remember_theme

    # -- life cycle --------------------------------------------------------------------------

    async def on_mount(self) -> None:
        if self._start_theme in self.available_themes:
            self.theme = self._start_theme
        if self._keymap:
            self.set_keymap(self._keymap)
        # Shown only while a slow replica opens (a damaged one being rebuilt, a slow disk).
        notice = self.set_timer(OPENING_NOTICE_AFTER, self._say_opening)
        try:
            self.engine = await Engine.open(self.engine_config, first=FIRST_ROWS)
        except OfflineError as exc:
            self.exit(1, message=str(exc))
            return
        finally:
            notice.stop()
        self.alert_desk = AlertDesk(self, self.engine, bell=self.bell_on_alert, now=self.now)
        self.alert_count = self.alert_desk.count
        kinds = (MutationRejected, AlertReceived, AlertsChanged, StatusChanged)
        self._unsubscribe = bridge(self.engine, self, kinds=kinds)
        await self.push_screen(QueueScreen(self.engine, clock=self.now))
        # After the first paint: loading the rest of a big replica, then syncing.
        self.call_after_refresh(self._start_engine)

    def now(self) -> datetime:
        """The server's time as this terminal knows it: what SLA countdowns count down to."""
        if self._clock is not None:
            return self._clock()
        return self.engine.server_now() if self.engine is not None else utcnow()

    def _say_opening(self) -> None:
        self.screen.mount(Static("Opening the local replica…", id="opening"))

    async def _start_engine(self) -> None:
        if self.engine is not None:
            await self.engine.start()

    async def on_unmount(self) -> None:
        await self.close_engine()

    async def close_engine(self) -> None:
        """Stop syncing and close the replica; pending edits stay in the outbox for next time."""
        self._unsubscribe()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.close()

    async def action_quit(self) -> None:
        await self.close_engine()
        self.exit(0)

    # -- engine events -----------------------------------------------------------------------

    @on(EditRejected)
    def _rejected(self, message: EditRejected) -> None:
        event = message.event
        self.notify(
            plain(event.message),
            title=f"Server refused {event.name.replace('_', ' ')} ({event.code})",
            severity="error",
            markup=False,
            timeout=10,
        )

    @on(EngineStatusChanged)
    def _engine_status(self, message: EngineStatusChanged) -> None:
        """A refused token: ask for the password once; Esc keeps working offline, unasked."""
        status = message.status
        if status.connection == "online":
            self._sign_in_declined = False
        if self.engine is None or not needs_sign_in(status) or self._sign_in_declined:
            return
        self._ask_sign_in(status.reason or "")

    async def action_sign_in(self) -> None:
        """Sign in again now (palette), e.g. after choosing to work offline."""
        if self.engine is not None and self.engine.config.server_url:
            self._ask_sign_in("")

    def _ask_sign_in(self, reason: str) -> None:
        if self._asking_sign_in or self.engine is None:
            return
        self._asking_sign_in = True

        def done(signed_in: bool | None) -> None:
            self._asking_sign_in = False
            self._sign_in_declined = not signed_in

        self.push_screen(SignInScreen(self.engine, reason), done)

    async def action_sign_out(self) -> None:
        """Forget the saved token and quit; pending edits stay in the outbox for next time."""
        clear_session(self.engine_config.data_dir)
        await self.action_quit()

    @on(AlertArrived)
    def _bell(self, message: AlertArrived) -> None:
        """``alert`` frames: the bell (once per burst) and at most one notice."""
        events = message.take_events()
        if self.alert_desk is not None:
            self.alert_desk.bells(events)

    @on(AlertsUpdated)
    def _alerts_changed(self, message: AlertsUpdated) -> None:
        """The replica's alerts changed: recount; ring once for those a catch-up brought."""
        _live, away = message.take()
        if self.alert_desk is not None:
            self.alert_desk.changed(away)
            self.alert_count = self.alert_desk.count

    # -- help, palette, theme ----------------------------------------------------------------

    def action_help(self) -> None:
        rows: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.id or binding.id in seen:
                continue  # inherited scrolling keys have no id and are not ours to document
            seen.add(binding.id)
            rows.append((self.get_key_display(binding), binding.description, binding.id))
        self.push_screen(HelpScreen(rows))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        queue = next((s for s in self.screen_stack if isinstance(s, QueueScreen)), None)
        if queue is None:
            return
        for view in QUICK_VIEWS.values():
            yield SystemCommand(
                f"View: {view.title}", f"Show {view.title.lower()}", self._view(queue, view.name)
            )
        actions = (
            ("New request", "Log a new guest request", "new"),
            ("Acknowledge", "Acknowledge the selected request(s)", "set_status('acknowledged')"),
            ("Start", "Start work on the selected request(s)", "set_status('in_progress')"),
            ("Complete", "Complete the selected request(s)", "set_status('completed')"),
            ("Cancel request", "Cancel the selected request(s)", "set_status('cancelled')"),
            ("Edit", "Edit the selected request", "edit"),
            ("Take", "Assign the selected request to me", "assign_me"),
            ("Assign", "Assign the selected request to someone", "assign"),
            ("Filter", "Filter by room, description, guest, assignee", "filter"),
            ("Sort: next column", "Sort the queue by the next column", "sort_next"),
            ("Sort: reverse", "Reverse the sort order", "sort_reverse"),
            ("Alerts", "Open alerts oldest first, then acknowledged ones", "alerts"),
            (
                "Acknowledge alert",
                "Acknowledge the oldest alert you may, and jump to its request",
                "acknowledge_alert",
            ),
            (
                "Acknowledge all alerts",
                "Acknowledge every open alert you may (each recorded with who and when)",
                "acknowledge_all_alerts",
            ),
            ("Conflicts", "Parked conflicts: keep mine or theirs", "conflicts"),
            ("Performance", "Server and sync figures", "performance"),
            ("Handover", "The shift's report: open, late, alerts, on time", "handover"),
            ("Sync now", "Try to reach the server now", "app.sync_now"),
            ("Sign in again", "Get a new token (pending edits wait)", "app.sign_in"),
            ("Sign out", "Forget the saved token and quit (edits stay pending)", "app.sign_out"),
        )
        for title, help_text, action in actions:
            yield SystemCommand(title, help_text, self._run(queue, action))

    def _view(self, queue: QueueScreen, name: str) -> Callable[[], None]:
        return lambda: queue.action_view(name)

    def _run(self, queue: QueueScreen, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await queue.run_action(action)

        return run

    async def action_sync_now(self) -> None:
        if self.engine is not None:
            await self.engine.sync_now()

    def watch_theme(self, theme: str) -> None:
        if self._remember_theme is not None and theme != self._start_theme:
            self._start_theme = theme
            self._remember_theme(theme)
