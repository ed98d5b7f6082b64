"""Shared fixtures: a real frontdesk server on an ephemeral loopback port, with four users;
and the helpers the TUI tests share (an app, what it shows), so no test imports another."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import token_for, wait_for
from textual.geometry import Region
from textual.strip import Strip

from backend.accounts import Accounts
from backend.app import FrontdeskServer
from backend.config import ServerConfig
from offline.engine import EngineConfig
from protocol.models import Role
from tui.app import FrontdeskApp
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm
from tui.widgets.request_table import RequestTable
from tui.widgets.status_bar import StatusBar

USERS = {
    "ann": ("staff", "ann-pass"),
    "bob": ("staff", "bob-pass"),
    "meg": ("manager", "meg-pass"),
    "adam": ("admin", "adam-pass"),
}
"""Users every ``server`` has: name → (role, password)."""


def make_config(tmp_path, **overrides) -> ServerConfig:
    """A config for a test server: loopback, port 0, short delays."""
    values = {
        "host": "127.0.0.1",
        "port": 0,
        "data_dir": tmp_path / "server",
        "login_delay_base": 0.05,
        "gc_tuning": False,  # many servers in one test process: leave the collector alone
        **overrides,
    }
    return ServerConfig(**values)


async def start_server(config: ServerConfig, users: bool = True) -> FrontdeskServer:
    """Start a server on ``config`` and create the test users (once per data dir)."""
    server = FrontdeskServer(config)
    await server.start()
    if users:
        accounts: Accounts = server.accounts
        existing = {u["name"] for u in await accounts.list_users()}
        for name, (role, password) in USERS.items():
            if name not in existing:
                await accounts.add_user(name, role, password)
    return server


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[FrontdeskServer]:
    """A running server on 127.0.0.1:0 with users ann, bob (staff), meg (manager), adam (admin)."""
    srv = await start_server(make_config(tmp_path))
    try:
        yield srv
    finally:
        await srv.close()


# -- the TUI tests' helpers ------------------------------------------------------------------

SIZE = (120, 40)
"""Terminal size of the TUI tests (columns, rows)."""


def offline_app(tmp_path: Path, user: str = "ann", role: Role = Role.STAFF) -> FrontdeskApp:
    """The app on a replica of its own, with no server (offline only)."""
    return FrontdeskApp(EngineConfig(data_dir=tmp_path / user, user=user, role=role))


async def ready(app: FrontdeskApp, pilot) -> QueueScreen:
    """Wait until the queue is shown."""
    await wait_for(lambda: isinstance(app.screen, QueueScreen), message="queue not shown")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


def table_text(app: FrontdeskApp) -> list[str]:
    """The request table's lines as drawn (header first)."""
    table = app.screen.query_one(RequestTable)
    return [table.render_line(y).text for y in range(table.size.height)]


def screen_text(svg: str) -> str:
    """The characters of an exported screenshot, line by line (text nodes joined per row)."""
    rows: dict[str, list[str]] = defaultdict(list)
    for y, chunk in re.findall(r'<text [^>]*y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[y].append(html.unescape(chunk).replace("\xa0", " "))
    return "\n".join("".join(parts) for _, parts in sorted(rows.items(), key=lambda r: float(r[0])))


def status_text(app: FrontdeskApp) -> str:
    """The status bar as drawn."""
    return str(app.screen.query_one(StatusBar).render())


async def log_request(pilot, room: str, description: str) -> None:
    """Log a request the way a person does: ``n``, the room, Enter, the text, Ctrl+S."""
    await pilot.press("n")
    await wait_for(lambda: isinstance(pilot.app.screen, RequestForm), message="form not open")
    await pilot.press(*room)
    await pilot.press("enter")
    await pilot.press(*description) if description.isprintable() else None
    await pilot.press("ctrl+s")
    await pilot.pause()


async def config_for(
    server: FrontdeskServer, tmp_path: Path, user: str, role: Role | None = None
) -> EngineConfig:
    """An engine config for ``user`` on ``server``, signed in (a fresh token)."""
    return EngineConfig(
        data_dir=tmp_path / f"tui-{user}",
        user=user,
        role=role or Role(USERS[user][0]),
        server_url=server.url,
        token=await token_for(server, user, USERS[user][1]),
    )


def rows(app: FrontdeskApp) -> list[str]:
    """The table's request rows as drawn (no header, no blank lines)."""
    return [line for line in table_text(app)[1:] if line.strip()]


def toast_texts(app: FrontdeskApp) -> list[str]:
    """The notifications on screen now, title and message, as drawn."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def drawn_strips(app: FrontdeskApp) -> list[Strip]:
    """Every line each widget of the current screen draws (toasts included), as Textual hands
    them to the terminal."""
    strips: list[Strip] = []
    for widget in app.screen.walk_children(with_self=True):
        width, height = widget.outer_size
        if widget.display and width and height:
            strips.extend(widget.render_lines(Region(0, 0, width, height)))
    return strips
