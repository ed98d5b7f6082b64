"""The request table: a virtual table on Textual's Line API.

``DataTable`` builds every row up front and freezes at 100,000 rows. This table keeps only a
list of ids (``QueueModel.ids``) and formats a line when it comes on screen (``render_line``),
with a small LRU cache keyed by everything the line shows, so scrolling, filtering and live
changes cost what is visible, not what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from protocol.models import Priority, Request
from tui.queue_model import QueueModel
from tui.text import literal_cell
from tui.widgets.cells import STATUS_LABEL, category_label, number_cell, sla_cell


@dataclass(frozen=True)
class Column:
    """One table column: its key (also its sort key), title and width (0: takes the rest)."""

    key: str
    title: str
    width: int


COLUMNS: tuple[Column, ...] = (
    Column("number", "#", 7),
    Column("room", "Room", 6),
    Column("category", "Category", 12),
    Column("priority", "Priority", 8),
    Column("status", "Status", 12),
    Column("assignee", "Assignee", 10),
    Column("sla", "SLA/age", 8),
    Column("description", "Description", 0),
)
MARKER_WIDTH = 2
"""Left gutter: ✓ when marked with space, ⟳ while an edit is pending, ≠ for a parked conflict."""
MIN_FLEX = 12
ROOMY_FLEX = MIN_FLEX * 2
"""A description narrower than this first makes the other columns tighter."""
MIN_NUMBER_DIGITS = 6
"""The ``#`` column fits ``#`` and at least this many digits (more once the tickets have them)."""

COMPACT: dict[str, Column] = {"priority": Column("priority", "Prio", 6)}
"""Tighter versions of columns (the longest value fits, the title is shortened) for narrow
terminals, tried before any column is given up."""
DROP_WHEN_NARROW = ("category", "assignee")
"""Columns given up, in this order, when the terminal is too narrow for the description to keep
``MIN_FLEX`` cells. At 80 columns only the category goes; the detail screen shows it."""


def number_width(top_number: int) -> int:
    """Width of the ``#`` column when the highest ticket number is ``top_number``."""
    return 1 + max(MIN_NUMBER_DIGITS, len(str(top_number)))


@lru_cache(maxsize=32)
def layout(width: int, numbers: int = COLUMNS[0].width) -> list[tuple[Column, int]]:
    """Column widths for a table ``width`` cells wide whose ``#`` column is ``numbers`` wide;
    the description takes what is left."""
    columns = [Column(c.key, c.title, numbers) if c.key == "number" else c for c in COLUMNS]

    def flex(shown: list[Column]) -> int:
        return width - MARKER_WIDTH - sum(c.width + 1 for c in shown if c.width) - 1

    if flex(columns) < ROOMY_FLEX:
        columns = [COMPACT.get(c.key, c) for c in columns]
        for key in DROP_WHEN_NARROW:
            if flex(columns) >= MIN_FLEX:
                break
            columns = [c for c in columns if c.key != key]
    return [(c, c.width or max(MIN_FLEX, flex(columns))) for c in columns]


def hidden_columns(width: int, numbers: int = COLUMNS[0].width) -> list[str]:
    """Titles of the columns ``layout`` gives up at this width (empty when all are shown)."""
    shown = {c.key for c, _ in layout(width, numbers)}
    return [c.title for c in COLUMNS if c.key not in shown]


class RequestTable(ScrollView, can_focus=True):
    """Requests one per line under a fixed header, with a cursor row and marked rows."""

    COMPONENT_CLASSES = {
        "request-table--header",
        "request-table--cursor",
        "request-table--cursor-blurred",
        "request-table--marked",
        "request-table--pending",
        "request-table--conflict",
        "request-table--dim",
        "request-table--priority-urgent",
        "request-table--priority-high",
        "request-table--priority-low",
        "request-table--status-pending",
        "request-table--status-acknowledged",
        "request-table--status-in_progress",
        "request-table--status-completed",
        "request-table--status-cancelled",
        "request-table--sla-warn",
        "request-table--sla-late",
        "request-table--sla-closed",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "jump(0)", "First", show=False, id="table.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="table.last"),
        Binding("enter", "activate", "Open", id="table.open"),
        Binding("space", "toggle_mark", "Mark", show=False, id="table.mark"),
    ]

    class CursorMoved(Message):
        """The cursor is on another request (or on none: the table is empty)."""

        def __init__(self, table: RequestTable, request_id: str | None, index: int) -> None:
            super().__init__()
            self.table = table
            self.request_id = request_id
            self.index = index

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RequestTable.CursorMoved)

    class Activated(Message):
        """Enter (or a double click) on a row: open it."""

        def __init__(self, table: RequestTable, request_id: str) -> None:
            super().__init__()
            self.table = table
            self.request_id = request_id

    class MarksChanged(Message):
        """The set of rows marked with space changed."""

        def __init__(self, table: RequestTable, marked: frozenset[str]) -> None:
            super().__init__()
            self.table = table
            self.marked = marked

    class ColumnsHidden(Message):
        """The columns left out for want of width changed (``titles`` empty: all shown)."""

        def __init__(self, table: RequestTable, titles: tuple[str, ...]) -> None:
            super().__init__()
            self.table = table
            self.titles = titles

    class SortRequested(Message):
        """A click on a column title: sort by it."""

        def __init__(self, table: RequestTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

    def __init__(
        self,
        model: QueueModel | None = None,
        *,
        is_pending: Callable[[str], bool] | None = None,
        has_conflict: Callable[[str], bool] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model if model is not None else QueueModel()
        self.is_pending = is_pending or (lambda _id: False)
        self.has_conflict = has_conflict or (lambda _id: False)
        self.cursor_index = 0
        self.cursor_id: str | None = None
        self.marked: set[str] = set()
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self._now = self.model.clock()
        self._hidden: tuple[str, ...] = ()

    # -- data --------------------------------------------------------------------------------

    def reload(self) -> None:
        """The model's id list changed (filter, sort, new rows): keep the cursor on its row."""
        self._now = self.model.clock()
        self._update_virtual_size()
        index = self.model.position(self.cursor_id) if self.cursor_id else None
        if index is None:
            index = min(self.cursor_index, max(len(self.model) - 1, 0))
        self._set_cursor(index, force_message=True)
        self._check_hidden()
        self.refresh()

    def refresh_rows(self, ids: Iterable[str] = ()) -> None:
        """Some rows changed in place (pending flag, version): repaint what is visible."""
        self._now = self.model.clock()
        self.refresh()

    def tick(self) -> None:
        """Time passed: countdowns move; cached lines keyed by their SLA text expire alone."""
        self._now = self.model.clock()
        self.refresh()

    @property
    def _numbers(self) -> int:
        """Width of the ``#`` column: the highest ticket number seen fits whole."""
        return number_width(self.model.top_number)

    @property
    def hidden(self) -> tuple[str, ...]:
        """Titles of the columns this width leaves out (the detail screen shows them)."""
        return self._hidden

    def _check_hidden(self) -> None:
        if not self.is_mounted or not self._width:
            return
        hidden = tuple(hidden_columns(self._width, self._numbers))
        if hidden != self._hidden:
            self._hidden = hidden
            self.post_message(self.ColumnsHidden(self, hidden))

    @property
    def cursor_request(self) -> Request | None:
        return self.model.get(self.cursor_id) if self.cursor_id else None

    # -- cursor ------------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor_index + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor_index + direction * self._page)

    def action_jump(self, where: int) -> None:
        self._set_cursor(len(self.model) - 1 if where < 0 else 0)

    def action_activate(self) -> None:
        if self.cursor_id is not None:
            self.post_message(self.Activated(self, self.cursor_id))

    def action_toggle_mark(self) -> None:
        if self.cursor_id is None:
            return
        self.marked.symmetric_difference_update({self.cursor_id})
        self.post_message(self.MarksChanged(self, frozenset(self.marked)))
        self._set_cursor(self.cursor_index + 1)
        self.refresh()

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.post_message(self.MarksChanged(self, frozenset()))
            self.refresh()

    def select_id(self, request_id: str) -> bool:
        """Put the cursor on ``request_id``; False when it is not visible."""
        index = self.model.position(request_id)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def _set_cursor(self, index: int, *, force_message: bool = False) -> None:
        count = len(self.model)
        index = max(0, min(index, count - 1)) if count else 0
        new_id = self.model.ids[index] if count else None
        moved = (index, new_id) != (self.cursor_index, self.cursor_id)
        self.cursor_index, self.cursor_id = index, new_id
        self._scroll_to_cursor()
        if moved or force_message:
            self.post_message(self.CursorMoved(self, new_id, index))
        if moved:
            self.refresh()

    def _scroll_to_cursor(self) -> None:
        rows_visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if self.cursor_index < top:
            self.scroll_to(y=self.cursor_index, animate=False, force=True)
        elif self.cursor_index >= top + rows_visible:
            self.scroll_to(y=self.cursor_index - rows_visible + 1, animate=False, force=True)

    # -- events ------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self._check_hidden()
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._styles.clear()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.SortRequested(self, column))
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.model):
            self._set_cursor(index)
            if event.chain >= 2 and self.cursor_id is not None:
                self.post_message(self.Activated(self, self.cursor_id))

    def _column_at(self, x: int) -> str | None:
        left = MARKER_WIDTH
        for column, width in layout(self._width, self._numbers):
            if left <= x < left + width + 1:
                return column.key
            left += width + 1
        return None

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width

    def _update_virtual_size(self) -> None:
        """Set the scrollable height to the row count (plus the header line).

        Assigning ``virtual_size`` re-lays out the whole screen (it is a layout reactive), which
        costs more than the repaint on every filter keystroke; the table's own size never
        depends on its row count, so only the scrollbars and the scroll bounds are updated.
        """
        size = Size(self._width, len(self.model) + 1)
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self._width
        base = self._styles.get("")
        if base is None:
            base = self._styles[""] = self.rich_style
        if y == 0:
            return self._header(width, base)
        index = int(self.scroll_y) + y - 1
        if not 0 <= index < len(self.model):
            if y == 2 and not len(self.model):
                return self._empty_hint(width, base)
            return Strip.blank(width, base)
        request_id = self.model.ids[index]
        request = self.model.get(request_id)
        if request is None:
            return Strip.blank(width, base)
        sla_text, sla_state = sla_cell(request, self._now)
        flags = (
            index == self.cursor_index,
            self.has_focus,
            request_id in self.marked,
            self.is_pending(request_id),
            self.has_conflict(request_id),
        )
        key = (request_id, request.version, request.number, width, self._numbers, sla_text, *flags)
        line = self._lines.get(key)
        if line is None:
            line = self._row(request, width, base, sla_text, sla_state, *flags)
            self._lines[key] = line
        return line

    def _style(self, name: str) -> Style:
        """A component style, looked up once per theme or CSS change (lines are hot)."""
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"request-table--{name}", partial=True)
            self._styles[name] = style
        return style

    def _empty_hint(self, width: int, base: Style) -> Strip:
        """What to do when there is nothing to show (rather than a silent blank table)."""
        if self.model.requests:
            hint = "Nothing matches this view or filter: Esc clears the filter, 1 shows all."
        else:
            hint = "No requests yet: press n to log one."
        style = base + self._style("dim")
        return Strip([Segment(hint.center(width)[:width], style)]).adjust_cell_length(width, base)

    def _header(self, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("request-table--header")
        segments = [Segment(" " * MARKER_WIDTH, style)]
        for column, cell_width in layout(width, self._numbers):
            title = column.title
            if column.key == self.model.sort_column:
                title += " ▼" if self.model.descending else " ▲"
            segments.extend(self._cell(title, cell_width, style, style))
        return Strip(segments).adjust_cell_length(width, style)

    def _row(
        self,
        request: Request,
        width: int,
        base: Style,
        sla_text: str,
        sla_state: str,
        is_cursor: bool,
        focused: bool,
        marked: bool,
        pending: bool,
        conflict: bool,
    ) -> Strip:
        line = base
        if marked:
            line = line + self._style("marked")
        if is_cursor:
            line = line + self._style("cursor" if focused else "cursor-blurred")
        segments = [Segment("✓" if marked else " ", line)]
        if conflict:
            segments.append(Segment("≠", line + self._style("conflict")))
        elif pending:
            segments.append(Segment("⟳", line + self._style("pending")))
        else:
            segments.append(Segment(" ", line))
        status = request.status.value
        cells: dict[str, tuple[str, Style | None]] = {
            "number": (
                number_cell(request),
                self._style("pending") if request.number is None else None,
            ),
            "room": (request.room, None),
            "category": (category_label(request.category.value), None),
            "priority": (request.priority.value, self._priority_style(request.priority)),
            "status": (STATUS_LABEL[request.status], self._style(f"status-{status}")),
            "assignee": (request.assignee, None) if request.assignee else ("—", self._style("dim")),
            "sla": (sla_text, self._style(f"sla-{sla_state}") if sla_state != "ok" else None),
            "description": (request.description, None),
        }
        for column, cell_width in layout(width, self._numbers):
            value, style = cells[column.key]
            segments.extend(self._cell(value, cell_width, line + style if style else line, line))
        return Strip(segments).adjust_cell_length(width, line)

    def _cell(self, value: str, width: int, style: Style, line: Style) -> list[Segment]:
        """One cell and its separator: user text shown literally, exactly ``width`` cells."""
        if value.isascii() and value.isprintable():  # the common case, without Rich Text
            if len(value) > width:
                value = value[: width - 1] + "…"
            return [Segment(value.ljust(width) + " ", style)]
        text = literal_cell(value, width)
        segments = [
            Segment(seg.text, style + seg.style if seg.style else style)
            for seg in text.render(self.app.console)
            if seg.text
        ]
        segments.append(Segment(" ", line))
        return segments

    def _priority_style(self, priority: Priority) -> Style | None:
        if priority in (Priority.URGENT, Priority.HIGH, Priority.LOW):
            return self._style(f"priority-{priority.value}")
        return None
