"""Reads from the server's HTTP API through the engine: stats for managers, a request's history."""

from __future__ import annotations

import pytest
from helpers import wait_for
from offline_kit import drained, new_request, open_engine

from offline.errors import ServerApiError


async def test_a_manager_reads_the_server_stats_and_staff_are_told_no(server, tmp_path):
    meg = await open_engine(tmp_path, server, "meg", start=False)
    ann = await open_engine(tmp_path, server, "ann", start=False)
    try:
        stats = await meg.fetch_stats()
        assert "total" in stats and "connections" in stats
        with pytest.raises(ServerApiError, match="403"):
            await ann.fetch_stats()
    finally:
        await meg.close()
        await ann.close()


async def test_the_history_of_a_request_lists_its_changes_oldest_first(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    try:
        request = await new_request(ann)
        await ann.set_status(request.id, "acknowledged")
        await wait_for(lambda: drained(ann))
        history = await ann.fetch_history(request.id)
        assert [entry["mutation"] for entry in history] == ["create_request", "set_status"]
        assert await ann.fetch_history("no-such-request") == []
    finally:
        await ann.close()


async def test_an_offline_only_engine_has_no_server_to_ask(tmp_path):
    ann = await open_engine(tmp_path, None, "ann")
    try:
        with pytest.raises(ServerApiError, match="offline only"):
            await ann.fetch_history("x")
    finally:
        await ann.close()
