"""Shared pieces of the offline engine tests: engines per user, a restartable server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import USERS, make_config, start_server
from helpers import token_for

from backend.app import FrontdeskServer
from offline.engine import Engine, EngineConfig
from protocol import Role


async def open_engine(
    tmp_path: Path,
    server: FrontdeskServer | None,
    user: str,
    *,
    role: Role | None = None,
    url: str | None = None,
    token: str | None = None,
    start: bool = True,
    **config: Any,
) -> Engine:
    """An engine for ``user`` with its own data dir, signed in to ``server``."""
    if server is not None and token is None:
        token = await token_for(server, user, USERS[user][1])
    engine = await Engine.open(
        EngineConfig(
            data_dir=tmp_path / f"client-{user}",
            user=user,
            role=role or Role(USERS[user][0]),
            server_url=url or (server.url if server is not None else None),
            token=token,
            **config,
        )
    )
    if start:
        await engine.start()
    return engine


async def new_request(engine: Engine, **overrides):
    fields = {
        "room": "1204",
        "category": "housekeeping",
        "description": "Two extra towels",
        "priority": "normal",
        **overrides,
    }
    return await engine.create_request(**fields)


def online(engine: Engine) -> bool:
    return engine.status.connection == "online"


def drained(engine: Engine) -> bool:
    return engine.status.pending == 0


class Restartable:
    """A server on a fixed port that can be stopped and started again with its data."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.server: FrontdeskServer | None = None
        self.port = 0

    async def start(self) -> FrontdeskServer:
        self.server = await start_server(make_config(self.tmp_path, port=self.port))
        self.port = self.server.port
        return self.server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
