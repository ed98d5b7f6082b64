"""The wire codec: the text of every frame, both directions, in one place.

The pydantic models of ``protocol.frames`` define each frame; this module writes and reads their
text. Most frames go through the models (``encode``, ``decode_server_frame``,
``decode_client_frame``). The hot frames have a second, faster path, held to the models by
round-trip property tests (tests/test_protocol_codec.py): what a fast path writes, the models
read back to the same values, and what a fast reader accepts, it reads exactly as the models do.

Writing (the server's hot paths): a row travels as the JSON text the store already holds, so
``change``, ``ack``, ``alert`` and the catch-up pages are assembled around row texts
(``change_text``, ``ack_text``, ``changes_page``, ``snapshot_page``...) instead of dumping a
model again for every recipient.

Reading (the client's hot paths): ``decode_server_frame`` turns a page into models, and the
replica then needed every row back as JSON: ``model_dump_json`` cost ~4.5 µs a row, a sixth of
the client's CPU in a catch-up. ``read_page`` and ``read_live`` cut a page, an ``ack`` or a
``change`` in the exact shape the writers above produce at its entry boundaries, and validate
each row's text on its own with ``Request``'s validator, keeping the text::

    {"type":"changes","changes":[{"seq":S,"request":ROW},...],"more":B}
    {"type":"snapshot","requests":[ROW,...],"seq":S,"more":B}

A cut can only be wrong where a row itself holds a boundary mark (``},{"seq":`` or ``},{"id":``,
quotes unescaped, so outside any string): both halves of such a row then have unbalanced
braces and fail validation. Anything not exactly in that shape (another key order, spaces, a
row that does not validate) gives None, and the caller decodes the frame the ordinary way and
gets the ordinary outcome. The fast path changes speed, never what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from protocol.frames import ChangeBy, ServerFrame
from protocol.models import Request
from protocol.wire import decode_client_frame, decode_server_frame, dumps

__all__ = [
    "LiveRow",
    "Page",
    "ack_text",
    "alert_text",
    "bulk_ack_text",
    "by_prefix",
    "change_text",
    "changes_page",
    "decode_client_frame",
    "decode_server_frame",
    "dumps",
    "encode",
    "hello_text",
    "mutate_text",
    "presence_text",
    "read_for_client",
    "read_live",
    "read_page",
    "snapshot_page",
]


# -- writing ---------------------------------------------------------------------------------------


def encode(frame: BaseModel) -> str:
    """Any frame, through its model (compact JSON; fields at None are written as null)."""
    return frame.model_dump_json()


def hello_text(client_id: str, last_seq: int, window_days: float | None = None) -> str:
    """The client's ``hello`` (``frames.Hello``); ``window_days`` only when given."""
    frame: dict[str, object] = {"type": "hello", "v": 1, "client_id": client_id}
    frame["last_seq"] = last_seq
    if window_days is not None:
        frame["window_days"] = window_days
    return dumps(frame)


def mutate_text(
    client_id: str, n: int, name: str, args: dict[str, Any], base_version: int | None
) -> str:
    """One ``mutate`` (``frames.Mutate``); ``base_version`` is left out when None."""
    frame: dict[str, Any] = {
        "type": "mutate",
        "client_id": client_id,
        "n": n,
        "name": name,
        "args": args,
    }
    if base_version is not None:
        frame["base_version"] = base_version
    return dumps(frame)


def presence_text(viewing: str | None, editing: bool, outbox_age: float | None = None) -> str:
    """The client's ``presence`` (``frames.PresenceUpdate``), with its outbox's age."""
    frame: dict[str, Any] = {"type": "presence", "viewing": viewing, "editing": editing}
    if outbox_age is not None:
        frame["outbox_age"] = round(max(0.0, outbox_age), 1)
    return dumps(frame)


def by_prefix(user: str, client_id: str) -> str:
    """``{"user":…,"client_id":…,"n":`` of a ``change``'s ``by`` (``frames.ChangeBy``): the
    server makes it once per client and appends ``f"{n}}}"`` for each change."""
    return dumps({"user": user, "client_id": client_id})[:-1] + ',"n":'


def change_text(seq: int, row: str, by: str) -> str:
    """A ``change`` (``frames.Change``) from the row's JSON and the ``by`` object's JSON."""
    return f'{{"type":"change","seq":{seq},"request":{row},"by":{by}}}'


def ack_text(n: int, seq: int, row: str) -> str:
    """The ``ack`` of a one-row mutation (``frames.Ack``), from the row's JSON."""
    return f'{{"type":"ack","n":{n},"seq":{seq},"request":{row}}}'


def bulk_ack_text(n: int, seq: int, rows: Sequence[str]) -> str:
    """The ``ack`` of a bulk mutation (``requests``), from the rows' JSON."""
    return f'{{"type":"ack","n":{n},"seq":{seq},"requests":[{",".join(rows)}]}}'


def alert_text(
    kind: Literal["urgent", "sla_breach", "escalated"],
    row: str,
    index: int | None = None,
    repeat: bool = False,
) -> str:
    """An ``alert`` (``frames.Alert``) from the row's JSON: alert ``index`` of the row rings."""
    extra = "" if index is None else f',"index":{int(index)}'
    if repeat:
        extra += ',"repeat":true'
    return f'{{"type":"alert","kind":"{kind}","request":{row}{extra}}}'


def changes_page(entries: Sequence[tuple[int, str]], more: bool) -> str:
    """A catch-up ``changes`` page (``frames.Changes``) from (seq, row JSON) entries."""
    body = ",".join(f'{{"seq":{seq},"request":{row}}}' for seq, row in entries)
    tail = "true" if more else "false"
    return f'{{"type":"changes","changes":[{body}],"more":{tail}}}'


def snapshot_page(rows: Sequence[str], seq: int, more: bool) -> str:
    """A catch-up ``snapshot`` page (``frames.Snapshot``) from the rows' JSON."""
    body = ",".join(rows)
    tail = "true" if more else "false"
    return f'{{"type":"snapshot","requests":[{body}],"seq":{seq},"more":{tail}}}'


# -- reading ---------------------------------------------------------------------------------------

_CHANGES_HEAD = '{"type":"changes","changes":['
_SNAPSHOT_HEAD = '{"type":"snapshot","requests":['
_MORE = ',"more":true}'
_LAST = ',"more":false}'
_ENTRY_HEAD = '{"seq":'
_ENTRY_CUT = '},{"seq":'
_ROW_KEY = ',"request":'
_ROW_CUT = '},{"id":'
_SEQ_KEY = '],"seq":'
_validate: Callable[[str], Request] = TypeAdapter(Request).validator.validate_json
"""``TypeAdapter.validator`` (a documented attribute) is the schema validator itself: calling it
skips ``TypeAdapter.validate_json``'s Python wrapper, ~1 µs a row under a profiler."""


@dataclass(slots=True)
class Page:
    """A ``changes`` or ``snapshot`` page: each entry is (seq, row, the row's JSON)."""

    entries: list[tuple[int, Request, str]]
    more: bool
    snapshot_seq: int | None = None
    """Set for a ``snapshot`` page: the seq its rows reflect (entries carry it too)."""


def read_page(text: str | bytes) -> Page | None:
    """The page with each row's text, or None when ``text`` is not a page in the server's
    shape (decode it with ``decode_server_frame`` then)."""
    if not isinstance(text, str):
        return None
    try:
        if text.startswith(_CHANGES_HEAD):
            return _changes(text)
        if text.startswith(_SNAPSHOT_HEAD):
            return _snapshot(text)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
    return None


def _changes(text: str) -> Page | None:
    more = _tail(text)
    if more is None:
        return None
    end = len(text) - len(_MORE if more else _LAST)
    if text[end - 1] != "]":
        return None
    body = text[len(_CHANGES_HEAD) : end - 1]
    if not body:
        return Page([], more)
    if not (body.startswith(_ENTRY_HEAD) and body.endswith("}")):
        return None
    entries: list[tuple[int, Request, str]] = []
    add = entries.append
    skip = len(_ROW_KEY)
    for part in body[len(_ENTRY_HEAD) : -1].split(_ENTRY_CUT):
        at = part.find(_ROW_KEY)
        digits = part[:at]
        # A JSON non-negative integer written plainly: no sign, no leading zero (as _counter).
        if at <= 0 or not (digits.isdigit() and digits.isascii()) or (at > 1 and part[0] == "0"):
            return None
        data = part[at + skip :]
        add((int(digits), _validate(data), data))
    return Page(entries, more)


def _snapshot(text: str) -> Page | None:
    more = _tail(text)
    if more is None:
        return None
    end = len(text) - len(_MORE if more else _LAST)
    at = text.rfind(_SEQ_KEY, len(_SNAPSHOT_HEAD) - 1, end)
    if at < 0:
        return None
    seq = _counter(text[at + len(_SEQ_KEY) : end])
    if seq is None:
        return None
    # The "more" mark ends the text and the "seq" one sits before it, so both follow the rows.
    body = text[len(_SNAPSHOT_HEAD) : at]
    if not body:
        return Page([], more, seq)
    if not (body.startswith("{") and body.endswith("}")):
        return None
    parts = body[1:-1].split(_ROW_CUT)
    entries = []
    for i, part in enumerate(parts):
        data = ("{" if i == 0 else '{"id":') + part + "}"
        entries.append((seq, _validate(data), data))
    return Page(entries, more, seq)


def _tail(text: str) -> bool | None:
    if text.endswith(_MORE):
        return True
    if text.endswith(_LAST):
        return False
    return None


def _counter(digits: str) -> int | None:
    """A JSON non-negative integer written plainly (no sign, no leading zero), or None."""
    if not (digits.isascii() and digits.isdigit()) or (len(digits) > 1 and digits[0] == "0"):
        return None
    return int(digits)


# -- live frames: the ack of a one-row edit, and a change -----------------------------------------

_ACK_HEAD = '{"type":"ack","n":'
_CHANGE_HEAD = '{"type":"change","seq":'
_SEQ_AFTER_N = ',"seq":'
_BY_KEY = ',"by":{'
_validate_by: Callable[[str], ChangeBy] = TypeAdapter(ChangeBy).validator.validate_json
RECENT_ROWS = 4096
"""Row texts of recent acks kept to recognise the ``change`` that repeats each of them."""


@dataclass(slots=True)
class LiveRow:
    """An ``ack`` of a one-row edit (``n`` set) or a live ``change`` (``n`` None), with the
    row's JSON."""

    n: int | None
    seq: int
    row: Request
    data: str


def read_live(text: str | bytes, recent: dict[str, Request]) -> LiveRow | None:
    """An ``ack`` or ``change`` in the server's shape, or None (decode it the ordinary way).

    The server sends every edit back twice: the ``ack`` to its author and the ``change`` to
    everyone, the author included, with the same row text. ``recent`` maps the row texts of
    acks to their rows, so the ``change`` that repeats one is not validated a second time
    (equal text, equal row) and the view sees no second, identical update.
    """
    if not isinstance(text, str) or not text.endswith("}"):
        return None
    try:
        if text.startswith(_ACK_HEAD):
            return _ack(text, recent)
        if text.startswith(_CHANGE_HEAD):
            return _change(text, recent)
    except ValueError:
        return None
    return None


def _ack(text: str, recent: dict[str, Request]) -> LiveRow | None:
    at = text.find(_SEQ_AFTER_N, len(_ACK_HEAD))
    if at < 0:
        return None
    n = _counter(text[len(_ACK_HEAD) : at])
    start = at + len(_SEQ_AFTER_N)
    end = text.find(_ROW_KEY, start)
    if n is None or end < 0:
        return None
    seq = _counter(text[start:end])
    if seq is None:
        return None
    data = text[end + len(_ROW_KEY) : -1]
    row = _validate(data)
    if len(recent) >= RECENT_ROWS:
        recent.clear()
    recent[data] = row
    return LiveRow(n, seq, row, data)


def _change(text: str, recent: dict[str, Request]) -> LiveRow | None:
    end = text.find(_ROW_KEY, len(_CHANGE_HEAD))
    by = text.rfind(_BY_KEY)
    if end < 0 or by < end:
        return None
    seq = _counter(text[len(_CHANGE_HEAD) : end])
    if seq is None:
        return None
    _validate_by(text[by + len(_BY_KEY) - 1 : -1])
    data = text[end + len(_ROW_KEY) : by]
    row = recent.pop(data, None)
    if row is None:
        row = _validate(data)
    return LiveRow(None, seq, row, data)


def read_for_client(text: str | bytes, recent: dict[str, Request]) -> ServerFrame | Page | LiveRow:
    """A server frame as the client applies it: catch-up pages, acks and changes with each
    row's JSON kept (``read_page``, ``read_live``), any other frame validated by its model.
    Raises ``ValueError`` (pydantic's ``ValidationError`` is one) for a frame it cannot read."""
    fast = read_page(text) or read_live(text, recent)
    if fast is not None:
        return fast
    return decode_server_frame(text)
