"""Show text typed by people literally, whatever it contains.

User text (rooms, descriptions, guest names, notes) is stored exactly as typed. Drawing it raw
would let ``[bold]`` be read as Rich markup, an ESC sequence clear the screen, or a bidi
override reverse a column. Everything here builds ``rich.text.Text`` objects (never markup
strings) and swaps every character a terminal would act on for a visible, dimmed placeholder.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

PLACEHOLDER_STYLE = Style(dim=True)
"""How placeholders look: dim, so they read as "something was here", not as user text."""

NEWLINE_MARK = "⏎"
TAB_MARK = "⇥"
ELLIPSIS = "…"

# Characters that are not controls (category Cc) but still change how a terminal lays out a
# line: bidi embeddings/overrides/isolates and marks, zero-width spaces and joiners, BOM.
_INVISIBLE = frozenset(
    "\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u00ad"
)
_LINE_BREAKS = frozenset("\n\u2028\u2029\x0b\x0c")


def placeholder(ch: str, *, one_line: bool = True) -> str | None:
    """The visible stand-in for ``ch``, or None when ``ch`` can be drawn as it is.

    C0 controls become their U+2400 control pictures (ESC → ␛, CR → ␍), DEL becomes ␡, C1
    controls and invisible format characters become ``<U+XXXX>``; in one-line cells a line
    break becomes ⏎. In multi-line text (``one_line=False``) a plain ``\\n`` is kept.
    """
    code = ord(ch)
    if code >= 0x20 and code < 0x7F:
        return None
    if ch == "\n":
        return None if not one_line else NEWLINE_MARK
    if ch in _LINE_BREAKS:
        return NEWLINE_MARK
    if ch == "\t":
        return TAB_MARK
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    if code <= 0x9F or ch in _INVISIBLE:
        return f"<U+{code:04X}>"
    if unicodedata.category(ch) in ("Cf", "Cs", "Cn"):
        # Other format characters (tags, annotations), lone surrogates and unassigned code
        # points have no reliable width in a terminal: name them instead of drawing them.
        return f"<U+{code:04X}>"
    return None


def literal(value: str | None, *, one_line: bool = True, style: Style | str = "") -> Text:
    """``value`` as a Text that shows every character literally and executes nothing.

    Markup is never parsed (the text is appended, not rendered from markup), control and
    invisible characters are replaced by dim placeholders, and, when ``one_line``, line
    breaks show as ⏎ so a table cell stays one line high.
    """
    text = Text(style=style, no_wrap=one_line, end="")
    if not value:
        return text
    plain: list[str] = []
    for ch in value:
        stand_in = placeholder(ch, one_line=one_line)
        if stand_in is None:
            plain.append(ch)
            continue
        if plain:
            text.append("".join(plain))
            plain.clear()
        text.append(stand_in, PLACEHOLDER_STYLE)
    if plain:
        text.append("".join(plain))
    return text


def fit(text: Text, width: int) -> Text:
    """``text`` cut or padded to exactly ``width`` terminal cells (ellipsis when cut).

    Widths are measured in cells (``rich.cells.cell_len``), so CJK and emoji, which take two
    cells, keep the columns after them aligned.
    """
    if width <= 0:
        return Text("", end="")
    fitted = text.copy()
    fitted.end = ""
    if cell_len(fitted.plain) > width:
        fitted.truncate(width, overflow="ellipsis")
    fitted.pad_right(width - cell_len(fitted.plain))
    return fitted


def literal_cell(value: str | None, width: int, *, style: Style | str = "") -> Text:
    """One table cell: ``value`` shown literally, on one line, exactly ``width`` cells wide."""
    return fit(literal(value, style=style), width)


def plain(value: str | None) -> str:
    """``value`` with control and invisible characters replaced, for places that take a plain
    string (notifications with ``markup=False``, titles)."""
    return literal(value).plain
