"""Shared fixtures: a real frontdesk server on an ephemeral loopback port, with four users."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.accounts import Accounts
from backend.app import FrontdeskServer
from backend.config import ServerConfig

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
        cluster = request.getfixturevalue("pg_cluster")
        monkeypatch.setenv("FRONTDESK_DATABASE_URL", cluster.dsn(cluster.create_database()))
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


class _DevCluster:
    """TEMPORARY: a cluster already running at FRONTDESK_TEST_PG (replaced by tests/pg_cluster)."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.count = 0

    def dsn(self, name: str) -> str:
        return self.admin.rsplit("/", 1)[0] + "/" + name

    def create_database(self) -> str:
        import subprocess
        import uuid

        name = "t" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", self.admin, "-qc", f"CREATE DATABASE {name}"], check=True)
        return name


@pytest.fixture(scope="session")
def pg_cluster():
    import os

    url = os.environ.get("FRONTDESK_TEST_PG")
    if not url:
        pytest.skip("no PostgreSQL")
    return _DevCluster(url)
