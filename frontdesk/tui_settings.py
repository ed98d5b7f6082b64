"""The TUI's settings file: key bindings remapped by binding id, and the alert bell.

`~/.config/frontdesk/tui.toml` (FRONTDESK_TUI_CONFIG names another file):

    bell = false            # no terminal bell on alerts (quiet lobbies)

    [keys]                  # binding id (shown by `?`) = key(s)
    "queue.new" = "f2"
    "queue.filter" = "slash,ctrl+f"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_config_path

from frontdesk.errors import CliError


@dataclass(frozen=True)
class TuiSettings:
    keymap: dict[str, str] = field(default_factory=dict)
    bell: bool = True


def settings_file() -> Path:
    """Where the TUI's settings live."""
    named = os.environ.get("FRONTDESK_TUI_CONFIG")
    return Path(named) if named else user_config_path("frontdesk", appauthor=False) / "tui.toml"


def load_tui_settings(path: Path | None = None) -> TuiSettings:
    """The settings, or the defaults when there is no file; a broken file is one clear line."""
    path = path or settings_file()
    if not path.is_file():
        return TuiSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    keys = data.get("keys", {})
    bell = data.get("bell", True)
    if not isinstance(keys, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
    ):
        raise CliError(f'{path}: [keys] maps binding ids to keys, e.g. "queue.new" = "f2"')
    if not isinstance(bell, bool):
        raise CliError(f"{path}: bell is true or false")
    return TuiSettings(keymap=dict(keys), bell=bell)
