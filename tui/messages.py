"""Engine events as Textual messages.

The engine calls its listeners on the event loop; a listener must not touch widgets. The bridge
here turns each event into a message posted to a screen or the app, and the handlers there
update widgets. Bursts coalesce (``can_replace``): a catch-up of a thousand changes becomes one
repaint, with the union of the changed ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message
from textual.message_pump import MessagePump

from offline.events import (
    AlertReceived,
    ConflictParked,
    EngineStatus,
    MutationRejected,
    PresenceChanged,
    PresenceEntry,
    StatusChanged,
    ViewChanged,
)

if TYPE_CHECKING:
    from offline.engine import Engine


class RowsChanged(Message, bubble=False):
    """Requests of the optimistic view changed (added, edited, rolled back, confirmed)."""

    def __init__(self, ids: set[str]) -> None:
        super().__init__()
        self.ids = ids

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, RowsChanged):
            message.ids |= self.ids  # the later message carries both bursts
            return True
        return False


class EngineStatusChanged(Message, bubble=False):
    """Connection state or outbox depth changed; only the latest matters."""

    def __init__(self, status: EngineStatus) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineStatusChanged)


class EditRejected(Message, bubble=False):
    """The server refused an edit; the view already shows its row again."""

    def __init__(self, event: MutationRejected) -> None:
        super().__init__()
        self.event = event


class AlertArrived(Message, bubble=False):
    """New urgent requests, SLA breaches or escalations (a burst arrives as one message)."""

    def __init__(self, events: list[AlertReceived]) -> None:
        super().__init__()
        self.events = events

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, AlertArrived):
            message.events[:0] = self.events  # keep arrival order
            return True
        return False


class ConflictArrived(Message, bubble=False):
    """An edit of ours clashed with someone else's and waits for a person."""

    def __init__(self, event: ConflictParked) -> None:
        super().__init__()
        self.event = event


class PresenceUpdated(Message, bubble=False):
    """Who is online and what each views or edits changed; only the latest list matters."""

    def __init__(self, users: tuple[PresenceEntry, ...]) -> None:
        super().__init__()
        self.users = users

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PresenceUpdated)


def bridge(
    engine: Engine, target: MessagePump, *, kinds: tuple[type, ...] = ()
) -> Callable[[], None]:
    """Post engine events of ``kinds`` (all when empty) to ``target``; returns unsubscribe."""

    def listen(event: object) -> None:
        if kinds and not isinstance(event, kinds):
            return
        if isinstance(event, ViewChanged):
            target.post_message(RowsChanged(set(event.ids)))
        elif isinstance(event, StatusChanged):
            target.post_message(EngineStatusChanged(event.status))
        elif isinstance(event, MutationRejected):
            target.post_message(EditRejected(event))
        elif isinstance(event, AlertReceived):
            target.post_message(AlertArrived([event]))
        elif isinstance(event, ConflictParked):
            target.post_message(ConflictArrived(event))
        elif isinstance(event, PresenceChanged):
            target.post_message(PresenceUpdated(event.users))

    return engine.subscribe(listen)
