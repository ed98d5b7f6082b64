"""Keys for a text field are handled one at a time, in the order they were typed.

A terminal hands over everything typed since its last read in one go: a fast typist, a paste
without bracketed-paste mode, ``tmux send-keys "1204" Tab "towels" C-s``. Textual queues each
key on the focused widget and runs a non-priority binding only once the key has bubbled back up
to the app, behind the rest of the burst; a priority binding runs at once, ahead of keys still
queued. So in a form, "towels" was typed into the room field before Tab moved the focus, and
Ctrl+S saved before either field had its text (textualize/textual#6605 is the same race for
an Input's own keys, backspace say).

Here a key for a text field is finished before the next one is read: bindings run from the app
at once, in order (what Textual would do when the key came back up, minus the wait), and text
and pastes go to the field, which is then given time to handle them and what they set off (an
Enter's ``Submitted`` bubbling up to the form that moves the focus).

A key that opens a form (``n`` on the queue) has the same race one step earlier: Textual runs
the queue's binding only once the key is back at the app, behind the keys typed after it, and
``Widget.focus`` queues the form's focus there too. So for a widget that types nothing its
bindings run at once (``run_bindings``), the forms take their focus in ``on_mount`` with
``Screen.set_focus``, and a key arriving while a form has not mounted and focused yet waits
for it (``form_ready``).
"""

from __future__ import annotations

import asyncio

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.screen import ModalScreen, Screen
from textual.widgets import Input

SETTLE_SECONDS = 1.0
"""Longest wait for a field and its form to handle one key before the next key is read anyway."""


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def settled(widget: MessagePump) -> None:
    """Wait until ``widget`` and each ancestor up to its screen has handled what it was sent.

    A message bubbles one hop at a time, so the ancestors are waited for in turn, each after
    the one below it: what the field posted has reached the next one by then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    node: MessagePump | None = widget
    while node is not None:
        done: asyncio.Future[None] = loop.create_future()
        if node.call_later(_resolve, done):  # runs after the messages already queued on node
            await asyncio.wait({done}, timeout=max(0.0, deadline - loop.time()))
        if isinstance(node, Screen):
            return
        node = node._parent


async def form_ready(app: App) -> None:
    """Wait (at most ``SETTLE_SECONDS``) until a form just pushed has mounted every widget and
    focused its first field. Only a modal screen with text fields is waited for."""
    screen = app.screen
    if not isinstance(screen, ModalScreen) or screen.focused is not None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while screen.focused is None and app.screen is screen and loop.time() < deadline:
        if screen.is_mounted and not screen.query(Input):
            return
        await settled(screen)
    for widget in screen.query("*"):  # its widgets finish mounting (a Select's parts, say)
        await settled(widget)


async def run_bindings(app: App, event: events.Key) -> bool:
    """Run the bindings of a key for a widget that types nothing (the queue's table) now and in
    order, as Textual would once the key came back up to the app; True when one ran."""
    app.app_focus = True
    if await app._check_bindings(event.key, priority=True):
        return True
    return bool(await app._check_bindings(event.key))


async def type_into(app: App, field: Input, event: events.Key | events.Paste) -> None:
    """Handle one key (or paste) meant for ``field`` to the end, as Textual would in order."""
    if isinstance(event, events.Key):
        app.app_focus = True
        # App._check_bindings is what Textual itself runs for a key: priority bindings first,
        # then, for a key the field does not type, the field's, its form's and the app's.
        if await app._check_bindings(event.key, priority=True):
            return
        if not event.is_printable and await app._check_bindings(event.key):
            await settled(field)
            return
    field._forward_event(event)
    await settled(field)
