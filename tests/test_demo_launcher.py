"""`make demo`'s launcher: the embedded server starts, keeps its data, and stops cleanly."""

from __future__ import annotations

import httpx

from backend.demo import seed_demo_data
from frontdesk.demo import prepare, start_server, stop_server


async def test_demo_data_is_seeded_once_and_reused(tmp_path):
    server_dir = tmp_path / "server"
    assert await seed_demo_data(server_dir) >= 190
    assert await seed_demo_data(server_dir) == 0  # a second `make demo` keeps what is there


async def test_the_demo_manager_is_signed_in_without_typing(tmp_path):
    token = await prepare(tmp_path / "server")
    assert token and len(token) >= 32


def test_embedded_server_listens_and_stops_cleanly_with_the_app(tmp_path):
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    proc, url = start_server(server_dir, tmp_path / "server.log")
    try:
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        stop_server(proc)
    assert proc.returncode == 0  # SIGTERM is a clean close, not a kill
