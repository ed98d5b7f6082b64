"""Catch-up pages read with each row's JSON text kept, so the replica stores it as it came.

``decode_server_frame`` turns a page into models, and the replica then needed every row back
as JSON: ``model_dump_json`` cost ~4.5 µs a row, a sixth of the client's CPU in a catch-up.
The server writes a page as its stored row texts joined together::

    {"type":"changes","changes":[{"seq":S,"request":ROW},...],"more":B}
    {"type":"snapshot","requests":[ROW,...],"seq":S,"more":B}

``read_page`` cuts such a page at its entry boundaries and validates each row's text on its own
with ``Request``'s validator, the one the page's schema uses for it, keeping the text.

A cut can only be wrong where a row itself holds a boundary mark (``},{"seq":`` or ``},{"id":``,
quotes unescaped, so outside any string): both halves of such a row then have unbalanced
braces and fail validation. Anything not exactly in that shape (another key order, spaces, a
row that does not validate) gives None, and the caller decodes the page the ordinary way and
gets the ordinary outcome. The fast path changes speed, never what is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import Request
from protocol.frames import ChangeBy

_CHANGES_HEAD = '{"type":"changes","changes":['
_SNAPSHOT_HEAD = '{"type":"snapshot","requests":['
_MORE = ',"more":true}'
_LAST = ',"more":false}'
_ENTRY_HEAD = '{"seq":'
_ENTRY_CUT = '},{"seq":'
_ROW_KEY = ',"request":'
_ROW_CUT = '},{"id":'
_SEQ_KEY = '],"seq":'
_validate = Request.__pydantic_validator__.validate_json


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
_validate_by = ChangeBy.__pydantic_validator__.validate_json
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
