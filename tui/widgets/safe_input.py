"""An Input that keeps its value exactly as typed but never draws it raw.

Textual's Input draws its value as it is, so a stored description holding ``ESC]52;…`` (a
clipboard write) or a right-to-left override would reach the terminal when an edit form opens.
Here every character the terminal would act on is drawn as a one-character stand-in (ESC → ␛,
bidi and zero-width characters → ⍰), one for one, so the cursor and selection, which Input
places by character index, stay on the characters they belong to.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Input

from tui.text import placeholder

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


class SafeInput(Input):
    """Input whose drawing neutralizes control, bidi and zero-width characters."""

    @property
    def _value(self) -> Text:
        if self.password:
            return super()._value
        text = Text(shown(self.value), no_wrap=True, overflow="ignore", end="")
        if self.highlighter is not None:
            text = self.highlighter(text)
        return text

    def _position_to_cell(self, position: int) -> int:
        return cell_len(shown(self.value[:position]))
