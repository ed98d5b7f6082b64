"""The one-line prompt under the table: ``/`` filters as you type, ``:`` jumps to a view.

Textual's ``Input`` re-lays out the screen on every keystroke; this prompt only repaints its own
line, which keeps a filter keystroke on 100,000 rows within a frame. It takes printable keys,
Backspace, Ctrl+U (clear), a paste (one line), Enter and Esc.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tui.text import literal


class FilterBar(Widget, can_focus=True):
    """``prompt`` followed by what was typed (or a dim placeholder)."""

    class Changed(Message):
        def __init__(self, bar: FilterBar, value: str) -> None:
            super().__init__()
            self.bar = bar
            self.value = value

    class Submitted(Message):
        def __init__(self, bar: FilterBar, value: str) -> None:
            super().__init__()
            self.bar = bar
            self.value = value

    class Cancelled(Message):
        def __init__(self, bar: FilterBar) -> None:
            super().__init__()
            self.bar = bar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt = "/"
        self.placeholder = ""
        self.value = ""

    def open(self, prompt: str, value: str, placeholder: str) -> None:
        self.prompt, self.value, self.placeholder = prompt, value, placeholder
        self.display = True
        self.focus()
        self.refresh()

    def set_value(self, value: str) -> None:
        self.value = value
        self.refresh()
        self.post_message(self.Changed(self, value))

    def render(self) -> Text:
        text = Text(self.prompt, style="bold", end="")
        if self.value:
            text.append_text(literal(self.value))
        if self.has_focus:
            text.append(" ", style="reverse")
        if not self.value and self.placeholder:
            text.append(" " + self.placeholder, style="dim")
        return text

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "escape":
            self.post_message(self.Cancelled(self))
        elif key == "enter":
            self.post_message(self.Submitted(self, self.value))
        elif key in ("backspace", "ctrl+h"):
            if self.value:
                self.set_value(self.value[:-1])
        elif key == "ctrl+u":
            self.set_value("")
        elif event.is_printable and event.character:
            self.set_value(self.value + event.character)
        else:
            return  # let other keys (ctrl+q, tab...) reach their bindings
        event.stop()
        event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        line = " ".join(event.text.splitlines())
        if line:
            self.set_value(self.value + line)
        event.stop()
