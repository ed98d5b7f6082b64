"""User text is drawn literally: markup shows as typed, nothing reaches the terminal raw."""

from __future__ import annotations

from rich.cells import cell_len

from tui.text import literal, literal_cell


def test_markup_is_shown_as_typed_not_interpreted():
    text = literal("[bold]x[/] [red]alarm")
    assert text.plain == "[bold]x[/] [red]alarm"
    assert not text.spans


def test_escape_sequences_are_shown_as_placeholders_not_executed():
    text = literal("a\x1b[2Jb\x07\x7f\x9b")
    assert "\x1b" not in text.plain and "\x07" not in text.plain and "\x9b" not in text.plain
    assert text.plain.startswith("a␛[2Jb␇␡")


def test_newlines_show_as_a_mark_in_one_line_cells_and_stay_in_blocks():
    assert literal("one\ntwo").plain == "one⏎two"
    assert literal("one\ntwo", one_line=False).plain == "one\ntwo"


def test_bidi_overrides_and_zero_width_characters_are_neutralized():
    plain = literal("room \u202e1204\u200b").plain
    assert "\u202e" not in plain and "\u200b" not in plain
    assert "<U+202E>" in plain


def test_wide_characters_keep_the_cell_width_exact():
    for value in ("漢字漢字漢字漢字", "👍👍👍👍👍", "plain text that is long", "ab"):
        cell = literal_cell(value, 7)
        assert cell_len(cell.plain) == 7
    assert literal_cell("漢字漢字漢字", 7).plain.endswith("…")
