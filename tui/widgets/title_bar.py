"""The one-line title: ``frontdesk — <screen's subtitle>``.

Textual's ``Header`` re-lays out the whole screen whenever its subtitle changes; the queue's
subtitle changes on every filter keystroke (the row count), so this bar repaints in place.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.text import plain


class TitleBar(Static):
    """Follows the screen's ``title`` and ``sub_title`` without a layout pass."""

    def on_mount(self) -> None:
        self.watch(self.screen, "title", self._show, init=False)
        self.watch(self.screen, "sub_title", self._show)

    def _show(self, _value: object = None) -> None:
        title = self.screen.title or self.app.title
        sub_title = self.screen.sub_title or ""
        text = Text(plain(title), style="bold", end="")
        if sub_title:
            text.append(" — ", style="dim")
            text.append(plain(sub_title))
        self.update(text, layout=False)
