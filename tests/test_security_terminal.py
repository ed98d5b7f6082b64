"""A terminal never executes what a guest typed.

Text full of Rich markup, ANSI and OSC sequences (clear screen, OSC 52 clipboard write, OSC 8
link, 8-bit CSI), C0 and C1 controls, a right-to-left override, zero-width and combining
characters, wide emoji and CJK goes into every text field from another terminal. It must be
stored on the server exactly as typed (or refused with a clear reason, never altered), and the
night manager's real app must draw it literally in the queue, the detail screen, the alert
banner and the toasts: markup visible as typed, no raw ESC, BEL or C1 character in what reaches
the terminal, no hyperlink or click action made from user text, columns still aligned, and the
app still running (``[@click=app.quit]`` does nothing).
"""

from __future__ import annotations

import re

import pytest
from conftest import (
    SIZE,
    USERS,
    config_for,
    drawn_strips,
    offline_app,
    ready,
    table_text,
    toast_texts,
)
from helpers import token_for, wait_for
from reliability_kit import server_rows
from rich.cells import cell_len
from rich.segment import Segment
from textual.widgets import Input

from offline.engine import Engine
from offline.errors import Rejected
from tui.app import FrontdeskApp
from tui.screens.detail import DetailScreen
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm
from tui.widgets.request_table import RequestTable

HOSTILE: dict[str, str] = {
    "markup": "[bold]x[/] [/ [@click=app.quit]x[/] [link=https://x]y[/link]",
    "ansi": "a\x1b[2Jb \x1b[31mred\x1b[0m \x1b[?1049h",
    "osc52": "copy\x1b]52;c;aGk=\x07 me",
    "osc8": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "csi8": "x\x9b2Jy\x9b31m",
    "controls": "bell\x07 bs\x08 cr\r tab\t vt\x0b del\x7f nel\x85 st\x9c",
    "rtl": "abc \u202edcba\u202c end",
    "zero-width": "a\u200bb\u200dc\ufeffd\u2060e",
    "combining": "e\u0301 Z\u0336\u0335a\u0337l\u0338",
    "wide": "👍🏽 漢字かな 👨‍👩‍👧 ｗｉｄｅ",
}
"""Kind → text typed into the description, notes and (where a line field accepts it) the
guest name."""

ROOMS: dict[str, str] = {
    "markup": "[b]12[/b]",
    "rtl": "\u202e4021",
    "zero-width": "12\u200b04",
    "combining": "1\u0301204",
    "wide": "漢字12",
}
"""Rooms that a one-line field accepts (no control characters) and that must show literally."""

LINE_OK = {"markup", "rtl", "zero-width", "combining", "wide"}
"""Kinds a one-line field (room, guest name) accepts; the others hold controls and are refused."""

FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\ufeff]")
"""Characters that must never be drawn raw: C0 (but tab/newline), DEL, C1, bidi, zero-width."""


def drawn_segments(app: FrontdeskApp) -> list[Segment]:
    """Every segment the widgets of the current screen draw (what goes to the terminal)."""
    return [seg for strip in drawn_strips(app) for seg in strip]


def drawn_text(app: FrontdeskApp) -> str:
    return "".join(seg.text for seg in drawn_segments(app) if not seg.control)


def raw_output(app: FrontdeskApp) -> str:
    """The bytes (as text) Textual would write to the terminal for those lines."""
    return "".join(strip.render(app.console) for strip in drawn_strips(app))


def assert_drawn_safely(app: FrontdeskApp, where: str) -> None:
    for seg in drawn_segments(app):
        if seg.control:
            continue
        bad = FORBIDDEN.search(seg.text)
        assert bad is None, f"{where}: raw {bad.group()!r} drawn in {seg.text!r}"
        style = seg.style
        if style is not None:
            assert not style.link, f"{where}: a link was made from {seg.text!r}"
            meta = style.meta or {}
            assert "@click" not in meta, f"{where}: a click action was made from {seg.text!r}"
    raw = raw_output(app)
    for sequence in ("\x1b]", "\x07", "\x9b", "\x1b[2J", "\x1b[?1049h", "\x1b[31m"):
        assert sequence not in raw, f"{where}: {sequence!r} reached the terminal"


async def create_hostile(bob: Engine) -> dict[str, str]:
    """One request per kind, with notes; returns kind → request id."""
    made: dict[str, str] = {}
    for kind, text in HOSTILE.items():
        row = await bob.create_request(
            room=ROOMS.get(kind, "1204"),
            category="concierge",
            description=text,
            priority="urgent" if kind in ("markup", "osc8", "controls") else "normal",
            guest_name=text if kind in LINE_OK else None,
        )
        await bob.add_note(row.id, text)
        made[kind] = row.id
    everything = await bob.create_request(
        room="1", category="other", description="\n".join(HOSTILE.values()), priority="low"
    )
    for text in HOSTILE.values():
        await bob.add_note(everything.id, text)
    made["everything"] = everything.id
    return made


@pytest.mark.parametrize("field", ["room", "guest_name"])
async def test_control_characters_in_a_one_line_field_are_refused_with_a_reason(
    server, tmp_path, field
):
    bob = await Engine.open(await config_for(server, tmp_path, "bob"))
    try:
        for kind in sorted(set(HOSTILE) - LINE_OK):
            values = {"room": "1204", "guest_name": None, field: HOSTILE[kind][:16]}
            with pytest.raises(Rejected) as refused:
                await bob.create_request(
                    category="concierge", description="x", priority="low", **values
                )
            assert "control characters" in str(refused.value), str(refused.value)
        assert bob.requests() == []
    finally:
        await bob.close()


async def test_hostile_text_is_stored_verbatim_and_drawn_literally_everywhere(server, tmp_path):
    bob = await Engine.open(await config_for(server, tmp_path, "bob"))
    await bob.start()
    app = FrontdeskApp(await config_for(server, tmp_path, "meg"), bell=False)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(app, pilot)
            made = await create_hostile(bob)
            await wait_for(lambda: bob.status.pending == 0, timeout=10, message="bob drained")
            assert app.engine is not None
            engine = app.engine
            await wait_for(
                lambda: all(
                    (r := engine.get(rid)) is not None and len(r.notes) >= 1
                    for rid in made.values()
                ),
                timeout=10,
                message="meg's terminal did not get every request",
            )

            # Stored exactly as typed, on the server.
            token = await token_for(server, "meg", USERS["meg"][1])
            rows = await server_rows(server.url, token)
            for kind, rid in made.items():
                if kind == "everything":
                    continue
                row = rows[rid]
                assert row.description == HOSTILE[kind], kind
                assert [n.text for n in row.notes] == [HOSTILE[kind]], kind
                assert row.room == ROOMS.get(kind, "1204"), kind
                assert row.guest_name == (HOSTILE[kind] if kind in LINE_OK else None), kind

            # The queue: literal, safe, aligned; toasts and banner too; the app is still up.
            await wait_for(lambda: app.alert_count == 3, message="three urgent alerts")
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, QueueScreen)
            lines = [ln for ln in table_text(app)[1:] if ln.strip()]
            assert len(lines) == len(made)
            assert any("[bold]x[/] [/ [@click=app.quit]x[/]" in ln for ln in lines), lines
            assert any("␛[2J" in ln for ln in lines), lines
            assert_drawn_safely(app, "queue")
            table = app.screen.query_one(RequestTable)
            widths = {cell_len(ln) for ln in table_text(app)}
            assert widths == {table.size.width}, f"rows of different widths: {widths}"
            priority = re.compile(r" (low|normal|high|urgent) ")
            starts = {cell_len(ln[: priority.search(ln).start()]) for ln in lines}  # type: ignore[union-attr]
            assert len(starts) == 1, f"priority column moved: {starts}\n" + "\n".join(lines)
            await wait_for(lambda: toast_texts(app), message="no toast for the urgent requests")
            toasts = toast_texts(app)
            for message in toasts:
                assert FORBIDDEN.search(message) is None, message
            shown = drawn_text(app)
            assert "[@click=app.quit]x[/]" in shown, "markup not shown as typed"

            # The detail screen: every field and note literal and safe ("everything" holds every
            # kind in its description and notes; "markup" in its room and guest name too).
            for kind in ("everything", "markup"):
                rid = made[kind]
                assert app.screen.query_one(RequestTable).select_id(rid)
                await pilot.press("enter")
                await wait_for(lambda: isinstance(app.screen, DetailScreen), message=kind)
                await pilot.pause()
                assert_drawn_safely(app, f"detail of {kind}")
                text = drawn_text(app)
                if kind == "markup":
                    assert text.count("[link=https://x]y[/link]") >= 2, "guest and description"
                    assert "[b]12[/b]" in text, "room"
                else:
                    for visible in ("␛]52;c;aGk=␇", "<U+202E>dcba", "␛]8;;https://evil", "漢字"):
                        assert visible in text, visible
                await pilot.press("escape")
                await wait_for(lambda: isinstance(app.screen, QueueScreen))
            assert app.is_running
    finally:
        await bob.close()


async def test_the_edit_form_shows_hostile_text_safely_and_saving_it_alters_nothing(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        description = HOSTILE["osc52"] + HOSTILE["ansi"] + HOSTILE["csi8"] + HOSTILE["markup"]
        row = await app.engine.create_request(
            room=ROOMS["rtl"],
            category="other",
            description=description,
            priority="low",
            guest_name=HOSTILE["rtl"],
        )
        await pilot.pause()
        assert app.screen.query_one(RequestTable).select_id(row.id)
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, RequestForm), message="edit form")
        await pilot.pause()
        assert app.screen.query_one("#description", Input).value == description
        assert_drawn_safely(app, "edit form")
        await pilot.press("ctrl+s")  # saved untouched
        await wait_for(lambda: isinstance(app.screen, QueueScreen), message="form closed")
        saved = app.engine.get(row.id)
        assert saved is not None
        assert (saved.room, saved.description, saved.guest_name) == (
            ROOMS["rtl"],
            description,
            HOSTILE["rtl"],
        )
