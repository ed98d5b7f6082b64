"""``?``: the live key map of the screen you came from (remapped keys included)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

VIEWS_HELP = (
    ("1 … 6", "views: all, mine, open, urgent & overdue, completed today, night manager"),
    (":", "jump to a view or screen by name (e.g. :urgent, :alerts)"),
    ("ctrl+p", "command palette: every action, view and theme"),
)


def key_table(rows: list[tuple[str, str, str]]) -> Table:
    """Keys, what they do, and the id that remaps them in the config file."""
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
    table.add_column("Key")
    table.add_column("Action")
    table.add_column("Id (config)", style="dim")
    for key, description, binding_id in rows:
        table.add_row(Text(key, style="bold"), Text(description), Text(binding_id))
    for key, description in VIEWS_HELP:
        table.add_row(Text(key, style="bold"), Text(description), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    """A list of every binding active where ``?`` was pressed."""

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Label("Keys", id="form-title")
            with VerticalScroll(id="help-keys"):
                yield Static(key_table(self.rows))
            yield Label("Esc closes · ↑ ↓ scroll", id="form-help")

    def action_close(self) -> None:
        self.dismiss(None)
