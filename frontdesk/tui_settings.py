"""The TUI's settings: one model, documented where declared, from a TOML file and env vars.

The file is ``tui.toml`` in the user's config directory (platformdirs: ``~/.config/frontdesk``
on Linux; ``FRONTDESK_TUI_CONFIG`` names another file). ``FRONTDESK_TUI_<FIELD>`` env vars win
over it (``FRONTDESK_TUI_BELL=false``; ``FRONTDESK_TUI_KEYS='{"queue.new": "f2"}'`` as JSON).
``frontdesk config show --tui`` prints the effective values:

    bell = false            # no terminal bell on alerts (quiet lobbies)
    theme = "nord"          # saved here when a theme is picked in the app (ctrl+p)

    [keys]                  # binding id (shown by `?`) = key(s)
    "queue.new" = "f2"
    "queue.filter" = "slash,ctrl+f"

The theme was once remembered in ``tui.json`` beside each local replica; the first start that
finds one moves its theme into ``tui.toml`` and deletes it (``load_for_replica``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from platformdirs import user_config_path
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from frontdesk.errors import CliError

ENV_PREFIX = "FRONTDESK_TUI_"
OLD_THEME_FILE = "tui.json"
"""Where a theme was remembered before ``tui.toml`` held it: beside the local replica."""


_TOML_FILE: ContextVar[Path | None] = ContextVar("frontdesk_tui_toml_file", default=None)
"""The TOML file ``load_tui_settings`` reads (a context variable: the model class is built once,
not once per file)."""


class TuiSettings(BaseSettings):
    """Everything the TUI can be told before it starts.

    Each field's docstring is its documentation (``test_every_setting_is_documented`` holds every
    field to it). Pydantic does not read them at run time (``use_attribute_docstrings``): parsing
    this module's source for them made ``frontdesk tui`` start ~30-60 ms later."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    bell: bool = True
    """Ring the terminal bell on each new alert (set false in quiet lobbies)."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Key bindings remapped by binding id (``?`` in the app lists the ids): ``"queue.new" =
    "f2"``; several keys separated by commas."""
    theme: str | None = None
    """Textual theme to start with (``ctrl+p`` → theme lists them); the app saves a theme picked
    there into the file. An unknown name is ignored: the default theme is used."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments in code, then ``FRONTDESK_TUI_*``, then the TOML file being loaded."""
        toml_file = _TOML_FILE.get()
        if toml_file is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))


def settings_file() -> Path:
    """Where the TUI's settings live."""
    named = os.environ.get("FRONTDESK_TUI_CONFIG")
    return Path(named) if named else user_config_path("frontdesk", appauthor=False) / "tui.toml"


def load_tui_settings(path: Path | None = None) -> TuiSettings:
    """The effective settings (defaults < file < env vars); a broken file or env var is one
    clear line naming it."""
    file = path or settings_file()
    if file.exists():
        try:  # TomlConfigSettingsSource would raise the decoder's error with no file name
            tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CliError(f"cannot read {file}: {exc}") from exc

    token = _TOML_FILE.set(file if file.is_file() else None)
    try:
        return TuiSettings()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        env = f"{ENV_PREFIX}{str(error['loc'][0]).upper()}"
        source = f"{file} or {env}" if env in os.environ else str(file)
        raise CliError(f"{source}: {where}: {error['msg']}") from exc
    finally:
        _TOML_FILE.reset(token)


def remember_theme(theme: str, path: Path | None = None) -> None:
    """Save ``theme`` as the ``theme`` of the settings file, keeping the rest of the file as
    written (comments too). A file that cannot be written only loses the remembered theme."""
    import tomlkit  # only when a theme is picked: keeps it out of the start-up imports

    path = path or settings_file()
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError):
        return  # a broken file is reported at the next start; never overwritten
    if document is None:
        document = tomlkit.document()
    if document.get("theme") == theme:
        return
    document["theme"] = theme
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        return


def load_for_replica(data_dir: Path, path: Path | None = None) -> TuiSettings:
    """The settings, after moving a theme remembered in the replica's old ``tui.json`` into
    the settings file (when the file names none yet); the old file is then deleted."""
    path = path or settings_file()
    settings = load_tui_settings(path)
    old = data_dir / OLD_THEME_FILE
    if not old.is_file():
        return settings
    try:
        saved: Any = json.loads(old.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    theme = saved.get("theme") if isinstance(saved, dict) else None
    if isinstance(theme, str) and settings.theme is None:
        remember_theme(theme, path)
        if load_tui_settings(path).theme != theme:
            return settings.model_copy(update={"theme": theme})  # not moved: keep the old file
        settings = settings.model_copy(update={"theme": theme})
    with contextlib.suppress(OSError):
        old.unlink()
    return settings


def app_options(settings: TuiSettings, path: Path | None = None) -> dict[str, Any]:
    """``FrontdeskApp`` keyword arguments for ``settings``, saving a theme picked in the app
    into the settings file at ``path``."""
    path = path or settings_file()
    return {
        "keymap": dict(settings.keys),
        "bell": settings.bell,
        "theme": settings.theme,
        "remember_theme": lambda theme: remember_theme(theme, path),
    }


def show_tui_settings() -> int:
    """Print the effective TUI settings (defaults < file < env vars) as JSON."""
    settings = load_tui_settings()
    print(json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True))
    return 0
