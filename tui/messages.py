"""Engine events as Textual messages.

The engine calls its listeners on the event loop; a listener must not touch widgets. The bridge
here turns each event into a message posted to a screen or the app, and the handlers there
update widgets. Bursts coalesce: while a ``RowsChanged`` (or ``AlertArrived``, ``AlertsUpdated``)
waits in the
target's queue, later events join its ``Batch`` instead of posting another message, so a
catch-up of a thousand changes becomes one repaint with the union of the changed ids. Messages
that only carry the latest state (status, presence) let Textual drop the older one
(``can_replace``); no message changes another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

from textual.message import Message
from textual.message_pump import MessagePump

from offline.events import (
    AlertReceived,
    AlertsChanged,
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

T = TypeVar("T")


class Batch(Generic[T]):
    """What arrived for one target since its handler last looked, in arrival order.

    The bridge adds to it and posts a message only when none is waiting; the handler takes
    everything at once, after which the next event starts a new message."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.waiting = False
        """A message for this batch is in the target's queue, not handled yet."""

    def add(self, items: Iterable[T]) -> bool:
        """Add ``items``; True when the caller must post a message (none is waiting)."""
        self.items.extend(items)
        post, self.waiting = not self.waiting, True
        return post

    def take(self) -> list[T]:
        """Everything added since the last take; the next ``add`` posts a new message."""
        items, self.items = self.items, []
        self.waiting = False
        return items


class RowsChanged(Message, bubble=False):
    """Requests of the optimistic view changed (added, edited, rolled back, confirmed)."""

    def __init__(self, batch: Batch[str]) -> None:
        super().__init__()
        self.batch = batch

    def take_ids(self) -> set[str]:
        """The ids changed since the handler last looked (call once per message)."""
        return set(self.batch.take())


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
    """The bell: ``alert`` frames (new or repeated alerts), a burst as one message. What is
    open comes from the rows (``AlertsUpdated``), not from these."""

    def __init__(self, batch: Batch[AlertReceived]) -> None:
        super().__init__()
        self.batch = batch

    def take_events(self) -> list[AlertReceived]:
        """The bells since the handler last looked, oldest first (call once)."""
        return self.batch.take()


class AlertsUpdated(Message, bubble=False):
    """Alerts in the view changed (raised, acknowledged, their rows edited); a burst as one
    message: read ``Engine.open_alerts()`` for what is open now."""

    def __init__(self, batch: Batch[AlertsChanged]) -> None:
        super().__init__()
        self.batch = batch

    def take(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(raised live, raised while away) since the handler last looked (call once)."""
        live: list[tuple[str, int]] = []
        away: list[tuple[str, int]] = []
        for event in self.batch.take():
            (away if event.caught_up else live).extend(event.raised)
        return live, away


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
    rows: Batch[str] = Batch()
    alerts: Batch[AlertReceived] = Batch()
    updates: Batch[AlertsChanged] = Batch()

    def listen(event: object) -> None:
        if kinds and not isinstance(event, kinds):
            return
        if isinstance(event, ViewChanged):
            if rows.add(event.ids) and not target.post_message(RowsChanged(rows)):
                rows.take()  # the target is closing: nobody will take them
        elif isinstance(event, StatusChanged):
            target.post_message(EngineStatusChanged(event.status))
        elif isinstance(event, MutationRejected):
            target.post_message(EditRejected(event))
        elif isinstance(event, AlertReceived):
            if alerts.add([event]) and not target.post_message(AlertArrived(alerts)):
                alerts.take()
        elif isinstance(event, AlertsChanged):
            if updates.add([event]) and not target.post_message(AlertsUpdated(updates)):
                updates.take()
        elif isinstance(event, ConflictParked):
            target.post_message(ConflictArrived(event))
        elif isinstance(event, PresenceChanged):
            target.post_message(PresenceUpdated(event.users))

    return engine.subscribe(listen)
