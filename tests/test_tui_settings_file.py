"""The TUI's one settings model: a TOML file remaps keys by binding id, silences the bell and
names a theme; FRONTDESK_TUI_* env vars win over it; a broken one is one clear line, not a
traceback; a theme remembered the old way (``tui.json`` beside the replica) carries over."""

from __future__ import annotations

import ast
import inspect
import json

import pytest

from frontdesk import tui_settings
from frontdesk.cli import main
from frontdesk.errors import CliError
from frontdesk.tui_settings import (
    TuiSettings,
    load_for_replica,
    load_tui_settings,
    remember_theme,
)


@pytest.fixture(autouse=True)
def no_tui_env(monkeypatch):
    """The settings of whoever runs the tests stay out of them."""
    for name in ("FRONTDESK_TUI_BELL", "FRONTDESK_TUI_KEYS", "FRONTDESK_TUI_THEME"):
        monkeypatch.delenv(name, raising=False)


def test_no_file_means_the_defaults(tmp_path):
    assert load_tui_settings(tmp_path / "missing.toml") == TuiSettings(
        bell=True, keys={}, theme=None
    )


def test_keys_are_remapped_by_binding_id_and_the_bell_can_be_silenced(tmp_path):
    path = tmp_path / "tui.toml"
    path.write_text('bell = false\n[keys]\n"queue.new" = "f2"\n', encoding="utf-8")
    settings = load_tui_settings(path)
    assert (settings.keys, settings.bell) == ({"queue.new": "f2"}, False)


def test_env_vars_win_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "tui.toml"
    path.write_text('bell = false\ntheme = "nord"\n', encoding="utf-8")
    monkeypatch.setenv("FRONTDESK_TUI_BELL", "true")
    monkeypatch.setenv("FRONTDESK_TUI_KEYS", '{"queue.new": "f3"}')
    settings = load_tui_settings(path)
    assert (settings.bell, settings.keys, settings.theme) == (True, {"queue.new": "f3"}, "nord")


@pytest.mark.parametrize(
    "text",
    ["bell = 'loud'\n", '[keys]\n"queue.new" = 2\n', "keys = [\n", "bel = false\n"],
)
def test_a_broken_settings_file_is_one_clear_line(tmp_path, text):
    path = tmp_path / "tui.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CliError) as caught:
        load_tui_settings(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_broken_env_var_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("FRONTDESK_TUI_BELL", "loud")
    with pytest.raises(CliError, match="FRONTDESK_TUI_BELL"):
        load_tui_settings(tmp_path / "missing.toml")


def test_a_picked_theme_is_saved_into_the_file_keeping_what_was_written(tmp_path):
    path = tmp_path / "tui.toml"
    path.write_text('bell = false  # quiet lobby\n[keys]\n"queue.new" = "f2"\n', "utf-8")
    remember_theme("nord", path)
    remember_theme("gruvbox", path)
    text = path.read_text(encoding="utf-8")
    assert "# quiet lobby" in text
    settings = load_tui_settings(path)
    assert (settings.theme, settings.bell, settings.keys) == ("gruvbox", False, {"queue.new": "f2"})


def test_a_theme_remembered_in_the_old_tui_json_moves_into_the_settings_file(tmp_path):
    replica = tmp_path / "replica"
    replica.mkdir()
    (replica / "tui.json").write_text(json.dumps({"theme": "nord"}), encoding="utf-8")
    path = tmp_path / "tui.toml"
    assert load_for_replica(replica, path).theme == "nord"
    assert not (replica / "tui.json").exists()
    assert load_tui_settings(path).theme == "nord"


def test_config_show_tui_prints_the_effective_values(tmp_path, monkeypatch, capsys):
    path = tmp_path / "tui.toml"
    path.write_text('bell = false\n[keys]\n"queue.new" = "f2"\n', encoding="utf-8")
    monkeypatch.setenv("FRONTDESK_TUI_CONFIG", str(path))
    monkeypatch.setenv("FRONTDESK_TUI_THEME", "nord")
    assert main(["config", "show", "--tui"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"bell": False, "keys": {"queue.new": "f2"}, "theme": "nord"}


def test_every_setting_is_documented():
    """Each field of the model has an attribute docstring right below it."""
    tree = ast.parse(inspect.getsource(tui_settings))
    model = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TuiSettings")
    documented = {
        target.target.id
        for target, after in zip(model.body, model.body[1:], strict=False)
        if isinstance(target, ast.AnnAssign)
        and isinstance(target.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
        and after.value.value.strip()
    }
    assert set(TuiSettings.model_fields) <= documented
