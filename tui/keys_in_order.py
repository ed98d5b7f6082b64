"""Keys for a text field are handled one at a time, in the order they were typed.

A terminal hands over everything typed since its last read in one go: a fast typist, a paste
without bracketed-paste mode, ``tmux send-keys "1204" Tab "towels" C-s``. Textual queues each
key on the focused widget and runs a non-priority binding only once the key has bubbled back up
to the app, behind the rest of the burst; a priority binding runs at once, ahead of keys still
queued. So in a form, "towels" was typed into the room field before Tab moved the focus, and
Ctrl+S saved before either field had its text (textualize/textual#6605 is the same race for
an Input's own keys, backspace say).

Here (``KeysInOrderApp``, the base of ``FrontdeskApp``) every key and paste from the terminal is
taken over on its way into the app (``KeysInOrder.divert``, called from the public
``App.check_message_enabled``) and queued on the app again as a ``KeyInOrder`` message, in
arrival order; the app handles one to the end before the next. Bindings run from the app at once
(what Textual would do when the key came back up, minus the wait); text and pastes are posted to
the field, which is then given time to handle them and what they set off (an Enter's
``Submitted`` bubbling up to the form that moves the focus). A key the field does not stop comes
back up to the app: it is recognised as ours, and its bindings run then, still before the next
key (or, when it took longer than ``SETTLE_SECONDS`` and the next keys went ahead, late, as
Textual would run them).

A key that opens a form (``n`` on the queue) has the same race one step earlier: Textual runs
the queue's binding only once the key is back at the app, behind the keys typed after it, and
``Widget.focus`` queues the form's focus there too. So for a widget that types nothing its
bindings run at once, the forms take their focus in ``on_mount`` with ``Screen.set_focus``, and
a key arriving while a form has not mounted and focused yet waits for it (``form_ready``).

Running a key's bindings now has no public API in Textual; ``tui.textual_adapter`` does it.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar
from weakref import WeakSet

from textual import events, on
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input

from tui.textual_adapter import run_key_bindings

SETTLE_SECONDS = 1.0
"""Longest wait for a field and its form to handle one key before the next key is read anyway."""

TypedEvent = events.Key | events.Paste


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def settled(widget: DOMNode) -> None:
    """Wait until ``widget`` and each ancestor up to its screen has handled what it was sent.

    A message bubbles one hop at a time, so the ancestors are waited for in turn, each after
    the one below it: what the field posted has reached the next one by then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    node: DOMNode | None = widget
    while node is not None:
        done: asyncio.Future[None] = loop.create_future()
        if node.call_later(_resolve, done):  # runs after the messages already queued on node
            await asyncio.wait({done}, timeout=max(0.0, deadline - loop.time()))
        if isinstance(node, Screen):
            return
        node = node.parent


def _unfocused(screen: Screen[Any]) -> bool:
    """Nothing focused on ``screen`` yet (read afresh: focus moves while we await)."""
    return screen.focused is None


async def form_ready(app: App[Any]) -> None:
    """Wait (at most ``SETTLE_SECONDS``) until a form just pushed has mounted every widget and
    focused its first field. Only a modal screen with text fields is waited for."""
    screen = app.screen
    if not isinstance(screen, ModalScreen) or screen.focused is not None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while _unfocused(screen) and app.screen is screen and loop.time() < deadline:
        if screen.is_mounted and not screen.query(Input):
            return
        await settled(screen)
    for widget in screen.query("*"):  # its widgets finish mounting (a Select's parts, say)
        await settled(widget)


class KeyInOrder(Message, bubble=False):
    """A key or paste from the terminal, queued on the app in the order it arrived."""

    def __init__(self, event: TypedEvent) -> None:
        super().__init__()
        self.event = event


class KeyCameBackLate(Message, bubble=False):
    """A key came back up unhandled after ``SETTLE_SECONDS``, when the next keys had already
    been handled: its bindings still run, late, as Textual would run them."""

    def __init__(self, event: events.Key) -> None:
        super().__init__()
        self.event = event


class KeysInOrder:
    """Takes keys and pastes over from Textual's routing and handles them one at a time."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self._sent: WeakSet[TypedEvent] = WeakSet()
        """Keys and pastes this object posted to a widget (they may bubble back to the app)."""
        self._came_back: WeakSet[TypedEvent] = WeakSet()
        self._waiting: WeakSet[TypedEvent] = WeakSet()
        """Sent and still waited for by ``_send``."""

    def divert(self, message: Message) -> bool:
        """For ``App.check_message_enabled``: False when ``message`` is taken over here (a key
        or paste from the terminal, requeued as ``KeyInOrder``; or one of ours back up)."""
        if not isinstance(message, TypedEvent) or message.is_forwarded:
            return True
        if message in self._sent:
            if message in self._waiting:
                self._came_back.add(message)  # not stopped on the way up: its bindings next
            elif isinstance(message, events.Key):
                self.app.post_message(KeyCameBackLate(message))
            return False
        self.app.post_message(KeyInOrder(message))
        return False

    async def handle(self, event: TypedEvent) -> None:
        """Handle one key (or paste) to the end, as Textual would, before the next one."""
        app = self.app
        await form_ready(app)
        if isinstance(event, events.Key):
            app.app_focus = True
            if await run_key_bindings(app, event.key, priority=True):
                return
        focused = app.focused
        if (
            isinstance(event, events.Key)
            and _binds_first(focused, event)
            and await run_key_bindings(app, event.key, priority=False)
        ):
            if isinstance(focused, Input):
                await settled(focused)  # what the binding set off (Enter: the next field)
            return
        await self._send(focused or app.screen, event)

    async def _send(self, target: Widget, event: TypedEvent) -> None:
        """Post ``event`` to ``target``, wait until it and its ancestors handled it, and run
        the key's bindings if it came back up unhandled (Textual's order, without the wait)."""
        self._sent.add(event)
        self._waiting.add(event)
        target.post_message(event)
        await settled(target)
        self._waiting.discard(event)
        if event in self._came_back and isinstance(event, events.Key):
            await run_key_bindings(self.app, event.key, priority=False)

    async def came_back_late(self, event: events.Key) -> None:
        """Run the bindings of a key that came back up after it was no longer waited for."""
        await run_key_bindings(self.app, event.key, priority=False)


def _binds_first(focused: Widget | None, event: events.Key) -> bool:
    """Whether the key's bindings run before the focused widget sees it: always for a widget
    that types nothing (the queue's table); for a text field, for the keys it does not type;
    never for a widget that reads keys itself (the filter bar)."""
    if isinstance(focused, Input):
        return not event.is_printable
    return not hasattr(focused, "on_key")


ReturnType = TypeVar("ReturnType")


class KeysInOrderApp(App[ReturnType]):
    """An App whose keys and pastes are handled one at a time, in the order they came."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys_in_order = KeysInOrder(self)

    def check_message_enabled(self, message: Message) -> bool:
        """Keys and pastes are taken over here (``KeysInOrder.divert``); every other message
        goes as Textual sends it."""
        return super().check_message_enabled(message) and self.keys_in_order.divert(message)

    @on(KeyInOrder)
    async def _key_in_order(self, message: KeyInOrder) -> None:
        await self.keys_in_order.handle(message.event)

    @on(KeyCameBackLate)
    async def _key_came_back_late(self, message: KeyCameBackLate) -> None:
        await self.keys_in_order.came_back_late(message.event)
