"""The detail's history comes from the server through the engine (the TUI does no HTTP)."""

from __future__ import annotations

from conftest import SIZE, config_for, ready, screen_text, table_text
from helpers import wait_for

from tui.app import FrontdeskApp
from tui.screens.detail import DetailScreen


def history_text(app) -> str:
    screen = screen_text(app.export_screenshot())
    return screen.split("History", 1)[-1]


async def test_the_detail_shows_the_server_history_of_a_request(server, tmp_path):
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        request = await app.engine.create_request(
            room="817", category="maintenance", description="leak", priority="high"
        )
        await wait_for(lambda: not app.engine.is_pending(request.id), message="acked")
        await wait_for(lambda: any("817" in line for line in table_text(app)))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen))
        await wait_for(lambda: "create request" in history_text(app), message=history_text(app))
        assert "ann" in history_text(app)
