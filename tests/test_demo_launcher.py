"""`make demo`'s launcher: the embedded server starts, keeps its data, and stops cleanly."""

from __future__ import annotations

import asyncio

import httpx

from backend.demo import seed_demo_data
from frontdesk.demo import prepare, start_server, stop_server


async def test_demo_data_is_seeded_once_and_reused(tmp_path):
    server_dir = tmp_path / "server"
    assert await seed_demo_data(server_dir) >= 190
    assert await seed_demo_data(server_dir) == 0  # a second `make demo` keeps what is there


def test_embedded_server_listens_signs_in_the_demo_manager_and_stops_cleanly(tmp_path):
    server_dir = tmp_path / "server"
    token = asyncio.run(prepare(server_dir))  # no password typed
    proc, url = start_server(server_dir, tmp_path / "server.log")
    try:
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        stats = httpx.get(
            f"{url}/api/v1/stats", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert stats.status_code == 200  # a manager's view, so the demo user is a manager
    finally:
        stop_server(proc)
    assert proc.returncode == 0  # SIGTERM is a clean close, not a kill
