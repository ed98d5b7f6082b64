"""An Input that keeps its value exactly as typed but never draws it raw.

Textual's Input draws its value as it is, so a stored description holding ``ESC]52;…`` (a
clipboard write) or a right-to-left override would reach the terminal when an edit form opens.
Here every character the terminal would act on is drawn as a one-character stand-in (ESC → ␛,
bidi and zero-width characters → ⍰), one for one, so the cursor and selection, which Input
places by character index, stay on the characters they belong to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.text import Text

from tui.text import placeholder
from tui.textual_adapter import CellMeasuredInput

UNSHOWABLE = "⍰"
"""Stand-in for a character whose placeholder is longer than one character (C1, bidi, …)."""


def shown(value: str) -> str:
    """``value`` with each character the terminal would act on replaced by one visible one."""
    out: list[str] = []
    for ch in value:
        stand_in = placeholder(ch, one_line=True)
        if stand_in is None:
            out.append(ch)
        else:
            out.append(stand_in if len(stand_in) == 1 else UNSHOWABLE)
    return "".join(out)


class ShownValue(Highlighter):
    """Input's public hook for drawing its value: here, the value with stand-ins.

    Input hands a highlighter the value as Rich has already cleaned it (CR, BEL, backspace
    dropped), which would shift every character after them; so the text is drawn again from
    the field's own value, one character for one."""

    def __init__(self, value: Callable[[], str]) -> None:
        self.value = value

    def highlight(self, text: Text) -> None:
        text.plain = shown(self.value())


class SafeInput(CellMeasuredInput):
    """Input whose drawing neutralizes control, bidi and zero-width characters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["highlighter"] = ShownValue(lambda: self.value)
        super().__init__(*args, **kwargs)

    def cells_before(self, position: int) -> int:
        if self.password:
            return position  # drawn as one bullet per character
        return cell_len(shown(self.value[:position]))
