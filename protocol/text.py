"""Rules for text typed by people: what is accepted, and the limits per field.

Text is stored exactly as typed or refused with a reason; it is never silently altered. The
display side (``tui``) neutralizes control characters when it draws; this module only decides
what may be stored.
"""

from __future__ import annotations

import re

ROOM_MAX = 16
DESCRIPTION_MAX = 2000
NOTE_MAX = 2000
GUEST_NAME_MAX = 120
USER_NAME_MAX = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
# Single-line fields refuse every C0 and C1 control, DEL included.
_LINE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BLOCK_BAD = re.compile("[\x00\ud800-\udfff]")
USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _length_or_blank(value: str, label: str, max_len: int, required: bool) -> str | None:
    if required and not value.strip():
        return f"{label} is required"
    if len(value) > max_len:
        return f"{label} is longer than {max_len} characters"
    return None


def check_line(value: str, *, label: str, max_len: int, required: bool = True) -> str | None:
    """Why a single-line field (room, guest name) is not acceptable, or None when it is."""
    if _LINE_BAD.search(value):  # one scan on the hot path; the reason only when needed
        if _SURROGATE.search(value):
            return f"{label} contains an invalid character (lone surrogate)"
        return f"{label} cannot contain control characters"
    return _length_or_blank(value, label, max_len, required)


def check_block(value: str, *, label: str, max_len: int) -> str | None:
    """Why a multi-line field (description, note) is not acceptable, or None when it is.

    Newlines, tabs and even escape characters are kept exactly as typed (they are shown
    neutralized); only NUL and lone surrogates, which no store or terminal can hold, are refused.
    """
    if _BLOCK_BAD.search(value):
        if _SURROGATE.search(value):
            return f"{label} contains an invalid character (lone surrogate)"
        return f"{label} cannot contain NUL characters"
    return _length_or_blank(value, label, max_len, True)


def check_user_name(value: str, *, label: str = "user name") -> str | None:
    """Why a user name (author, assignee) is not acceptable, or None when it is."""
    if not USER_NAME_RE.match(value):
        return f"{label} must be 1-64 letters, digits or . _ @ - (starting with a letter or digit)"
    return None
