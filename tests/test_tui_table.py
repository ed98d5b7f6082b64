"""The request table on plain data: rows, cursor, filter and mouse, without the engine."""

from __future__ import annotations

import uuid
from datetime import timedelta

from rich.cells import cell_len
from textual.app import App, ComposeResult

from protocol import Actor, Rejection, Role, apply_mutation, utcnow
from protocol.models import Request
from tui.queue_model import QueueModel
from tui.widgets.request_table import RequestTable

ANN = Actor("ann", Role.STAFF)


def make(minutes_ago: int, **overrides) -> Request:
    args = {
        "id": str(uuid.uuid4()),
        "room": "1204",
        "category": "housekeeping",
        "description": "Two extra towels",
        "priority": "normal",
        **overrides,
    }
    made = apply_mutation(
        "create_request", args, None, ANN, utcnow() - timedelta(minutes=minutes_ago)
    )
    assert not isinstance(made, Rejection), made
    return made


class TableApp(App):
    CSS_PATH = "../tui/app.tcss"

    def __init__(self, requests: list[Request]) -> None:
        super().__init__()
        self.model = QueueModel("ann")
        self.model.replace_all(requests)

    def compose(self) -> ComposeResult:
        yield RequestTable(self.model)


def lines(table: RequestTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_rows_show_newest_first_under_a_fixed_header():
    rows = [make(i, room=str(100 + i)) for i in range(50)]
    app = TableApp(rows)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RequestTable)
        await pilot.press("end")
        shown = lines(table)
        assert "Room" in shown[0] and "Description" in shown[0]
        assert " 149 " in shown[-1]
        assert table.cursor_id == rows[-1].id


async def test_cursor_keys_and_click_select_rows_and_enter_opens():
    rows = [make(i, room=str(100 + i)) for i in range(30)]
    seen: list = []
    app = TableApp(rows)
    async with app.run_test(size=(120, 20), message_hook=seen.append) as pilot:
        table = app.query_one(RequestTable)
        await pilot.press("down", "down")
        assert table.cursor_id == rows[2].id
        await pilot.press("pagedown", "home")
        assert table.cursor_id == rows[0].id
        await pilot.click(RequestTable, offset=(10, 4))
        assert table.cursor_id == rows[3].id
        await pilot.press("enter")
        await pilot.pause()
        opened = [m for m in seen if isinstance(m, RequestTable.Activated)]
        assert opened and opened[-1].request_id == rows[3].id


async def test_filter_keeps_only_matching_rows_and_the_cursor_on_its_row():
    rows = [make(i, room=str(100 + i)) for i in range(30)]
    rows.append(make(40, room="817", description="Leak under the sink"))
    app = TableApp(rows)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RequestTable)
        app.model.set_query("LEAK")
        table.reload()
        await pilot.pause()
        assert len(app.model) == 1 and table.cursor_id == rows[-1].id
        assert "Leak under the sink" in lines(table)[1]


async def test_markup_and_escape_codes_in_a_description_show_literally():
    rows = [make(1, description="[bold]x[/] \x1b[2J 漢字 👍", room="漢字")]
    app = TableApp(rows)
    async with app.run_test(size=(120, 20)):
        row = lines(app.query_one(RequestTable))[1]
        assert "[bold]x[/]" in row and "\x1b" not in row
        header = lines(app.query_one(RequestTable))[0]
        # Columns after the wide room stay aligned with the header.
        assert cell_len(row[: row.index("housekeeping")]) == header.index("Category")


async def test_an_80_column_terminal_gives_up_the_category_and_says_so():
    """At 80x24 the row still shows who has the request; the one column left out is named."""
    app = TableApp([make(1, description="Leak under the sink in the bathroom", assignee="ann")])
    async with app.run_test(size=(80, 10)):
        table = app.query_one(RequestTable)
        header, row = lines(table)[:2]
        assert "Description" in header and "Assignee" in header and "Category" not in header
        assert "Leak under the sink" in row and " ann " in row
        assert cell_len(row) <= 80
        assert table.hidden == ("Category",)


async def test_a_wide_terminal_hides_nothing():
    app = TableApp([make(1)])
    async with app.run_test(size=(120, 10)):
        table = app.query_one(RequestTable)
        assert "Category" in lines(table)[0] and table.hidden == ()


async def test_six_and_seven_digit_ticket_numbers_show_whole_at_any_width():
    """``#100000`` used to come out as ``#1000…``: the column grows with the numbers present."""
    six = make(2, room="301").model_copy(update={"number": 100000})
    seven = make(1, room="302").model_copy(update={"number": 1234567})
    for size in ((120, 10), (80, 10)):
        app = TableApp([six])
        async with app.run_test(size=size):
            table = app.query_one(RequestTable)
            assert "#100000 " in lines(table)[1]
            app.model.upsert([seven])  # a live row with a longer number widens the column
            table.reload()
            header, first, second = lines(table)[:3]
            assert "#1234567 " in first and "#100000 " in second
            assert first.index("302") == second.index("301") == header.index("Room")
