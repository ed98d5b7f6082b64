"""The TUI's settings file remaps keys by binding id and turns the bell off; a broken one is
one clear line, not a traceback."""

from __future__ import annotations

import pytest

from frontdesk.errors import CliError
from frontdesk.tui_settings import TuiSettings, load_tui_settings


def test_no_file_means_the_defaults(tmp_path):
    assert load_tui_settings(tmp_path / "missing.toml") == TuiSettings()


def test_keys_are_remapped_by_binding_id_and_the_bell_can_be_silenced(tmp_path):
    path = tmp_path / "tui.toml"
    path.write_text('bell = false\n[keys]\n"queue.new" = "f2"\n', encoding="utf-8")
    assert load_tui_settings(path) == TuiSettings(keymap={"queue.new": "f2"}, bell=False)


@pytest.mark.parametrize("text", ["bell = 'loud'\n", '[keys]\n"queue.new" = 2\n', "keys = [\n"])
def test_a_broken_settings_file_is_one_clear_line(tmp_path, text):
    path = tmp_path / "tui.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CliError) as caught:
        load_tui_settings(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
