"""A filter that finds nothing in the replica may match an older request on the server.

The replica keeps open requests and those closed within the engine's window (14 days); older
ones live on the server. When someone submits a filter (Enter), this asks the server for the
same text as a room, a ticket number or a guest name (``Engine.lookup``) in a worker, off the
UI's event handlers. Found rows join the replica, so the table shows them under the filter at
once; offline, when the filter shows nothing, a notification says in words what the replica
cannot show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

if TYPE_CHECKING:
    from offline.engine import Engine
    from offline.history import Lookup


async def lookup_text(engine: Engine, text: str) -> Lookup:
    """The lookups one typed text stands for: a room and a ticket number when it is digits,
    a room and a guest-name prefix otherwise; merged, newest ticket first."""
    text = text.strip()
    answers = [await engine.lookup(room=text)]
    if text.isdigit() and len(text) <= 18:
        answers.append(await engine.lookup(number=int(text)))
    else:
        answers.append(await engine.lookup(guest=text))
    first = answers[0]
    if not all(a.complete for a in answers):
        return next(a for a in answers if not a.complete)
    ids = {rid for a in answers for rid in a.server_ids}
    return type(first)(
        rows=[r for a in answers for r in a.rows],
        complete=True,
        more=any(a.more for a in answers),
        server_ids=sorted(ids),
    )


def look_up_older(screen: Screen[Any], engine: Engine, text: str, shown: int) -> None:
    """Ask the server about ``text`` in a worker; tell what it found, or (when the filter
    shows nothing) why it could not ask."""
    if not text.strip():
        return

    async def run() -> None:
        found = await lookup_text(engine, text)
        if found.note is not None:
            if shown:  # the replica had matches: no need to talk about what it lacks
                return
            screen.notify(found.note, markup=False, timeout=8)
        elif found.server_ids:
            count = len(found.server_ids)
            noun = "request" if count == 1 else "requests"
            screen.notify(f"{count} {noun} on the server match", markup=False, timeout=4)

    screen.run_worker(run(), group="history-lookup", exclusive=True)
