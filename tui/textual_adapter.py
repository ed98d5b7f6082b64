"""The only module that touches Textual's private names; ``tests/test_tui_textual_adapter.py``
fails when Textual changes them underneath.

Two things have no public API in Textual (8.2) and are needed for correctness:

- Running the bindings of a key now, in Textual's own order (``App._check_bindings``): the
  priority pass walks the whole binding chain (the app's Ctrl+Q works over a modal form), the
  other pass the chain up to the modal screen, with keys an Input consumes left out, the
  keymap applied, and the next binding tried when an action declines. ``Screen.active_bindings``
  (public) keeps one binding per key and leaves the app's priority bindings out under a modal
  screen, so Ctrl+Q would stop quitting from a form. Used by ``tui.keys_in_order``.
- Where the cursor of an Input is, in cells (``Input._position_to_cell``): Input measures the
  value as stored, where ESC, bidi and zero-width characters take no cell, but ``SafeInput``
  draws each of them as a one-cell stand-in, so without this the cursor and the horizontal
  scroll fall behind what is drawn.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Input


async def run_key_bindings(app: App[Any], key: str, *, priority: bool) -> bool:
    """Run the binding of ``key`` as Textual would: ``priority`` ones from the app down,
    otherwise from the focused widget up to its (modal) screen; True when one ran."""
    return bool(await app._check_bindings(key, priority=priority))


class CellMeasuredInput(Input):
    """An Input that measures the text before its cursor with ``cells_before`` (public to
    override) instead of Textual's measure of the stored value."""

    def cells_before(self, position: int) -> int:
        """Cells the value takes on screen up to character ``position`` (Textual's measure)."""
        return int(super()._position_to_cell(position))

    def _position_to_cell(self, position: int) -> int:
        return self.cells_before(position)
