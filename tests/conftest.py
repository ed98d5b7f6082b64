"""Shared fixtures: a real frontdesk server on an ephemeral loopback port, with four users;
and the helpers the TUI tests share (an app, what it shows), so no test imports another."""

from __future__ import annotations

import asyncio
import html
import os
import re
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from haproxy import HAProxy, HAProxyUnavailable
from helpers import token_for, wait_for
from pg_cluster import PgCluster, PostgresUnavailable
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


STORES = ("sqlite", "postgresql")
"""The two store implementations; server tests run against both."""


def make_config(tmp_path, **overrides) -> ServerConfig:
    """A config for a test server: loopback, port 0, short delays, on the test's store."""
    values = {
        "host": "127.0.0.1",
        "port": 0,
        "data_dir": tmp_path / "server",
        "login_delay_base": 0.05,
        "gc_tuning": False,  # many servers in one test process: leave the collector alone
        "follow_seconds": 0.5,
        **overrides,
    }
    return ServerConfig(**values)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every server test runs on both stores (a test marked ``sqlite_only`` on SQLite alone)."""
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if not module.startswith("test_server_"):
        return
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    metafunc.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture(autouse=True)
def store_kind(request, monkeypatch) -> str:
    """Point every server this test starts (in-process or ``frontdesk serve``) at its store:
    SQLite in the test's directory, or a fresh PostgreSQL database through
    ``FRONTDESK_DATABASE_URL``."""
    kind = getattr(request, "param", "sqlite")
    if kind == "postgresql":
        monkeypatch.setenv("FRONTDESK_DATABASE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("FRONTDESK_DATABASE_URL", raising=False)
    return str(kind)


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


def missing_tool(message: str) -> NoReturn:
    """Skip with ``message`` on a developer's machine; fail under CI, which must run the test."""
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        pytest.fail(f"CI must run this test: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throw-away PostgreSQL cluster for the whole session (see tests/pg_cluster.py)."""
    try:
        cluster = PgCluster()
    except PostgresUnavailable as exc:
        missing_tool(str(exc))
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """``postgresql://…`` of a fresh, empty database of its own for this test."""
    pg_cluster.ensure_running()
    name = pg_cluster.create_database()
    yield pg_cluster.dsn(name)
    pg_cluster.release_database(name)


@pytest.fixture
def start_haproxy() -> Iterator[Callable[..., HAProxy]]:
    """``start_haproxy([(host, port), …])``: a running HAProxy (docs/haproxy.cfg.example) in
    front of those servers; stopped when the test ends. Keyword arguments set the health-check
    timing (``inter="100ms", fall=2, rise=1`` by default)."""
    started: list[HAProxy] = []

    def start(servers: Sequence[tuple[str, int]], **check_timing: str | int) -> HAProxy:
        try:
            balancer = HAProxy(servers, **check_timing)
        except HAProxyUnavailable as exc:
            missing_tool(str(exc))
        started.append(balancer)
        balancer.start()
        return balancer

    yield start
    for balancer in started:
        balancer.stop()


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


class LoopThread:
    """An event loop of its own in a thread, for a real server while ``snap_compare`` (or a
    test's own loop) runs the app on another."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class ServerThread(LoopThread):
    """A frontdesk server on its own event loop in a thread (loopback, port 0)."""

    def __init__(self, tmp_path) -> None:
        super().__init__()
        # Chatter limits are tested elsewhere; here every bad frame must get its own answer.
        config = make_config(tmp_path, chatter_rate=100_000, chatter_burst=100_000)
        self.server: FrontdeskServer = self.call(start_server(config))

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.call(self.server.close())
        super().stop()


async def open_form(app, pilot) -> RequestForm:
    await ready(app, pilot)
    await pilot.press("n")
    await wait_for(lambda: isinstance(app.screen, RequestForm), message="form not open")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]
