"""Files holding guests' names and password hashes are readable by their owner only.

A front-desk terminal host and a server host are ordinary multi-user machines. Under the usual
umask (022) everything a process creates is world-readable unless it says otherwise, so the
server's database (password hashes, every request and guest name) and a terminal's replica
(every request and guest name) must be created private: directory 0700, files 0600. The
session file already is (it holds a bearer token).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_config, start_server
from helpers import token_for

from offline.engine import Engine, EngineConfig
from protocol import Role


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def readable_by_others(root: Path) -> list[str]:
    """Paths under ``root`` (itself included) that group or others may read or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


async def test_the_server_database_is_readable_by_its_owner_only(tmp_path, usual_umask):
    server = await start_server(make_config(tmp_path))
    try:
        ann = await token_for(server, "ann", "ann-pass")
        assert ann
        assert readable_by_others(server.config.data_dir) == []
    finally:
        await server.close()


async def test_a_terminal_replica_is_readable_by_its_owner_only(server, tmp_path, usual_umask):
    data_dir = tmp_path / "terminal"
    engine = await Engine.open(
        EngineConfig(
            data_dir=data_dir,
            user="ann",
            role=Role.STAFF,
            server_url=server.url,
            token=await token_for(server, "ann", "ann-pass"),
        )
    )
    try:
        await engine.create_request(
            room="1204",
            category="concierge",
            description="taxi",
            priority="low",
            guest_name="Ms Example",
        )
    finally:
        await engine.close()
    assert readable_by_others(data_dir) == []
