"""The performance panel charts the last hour from the server's own history (a terminal that
just started charts it at once) and shows the server's health verdicts, a breach in amber or red
with the threshold it crossed beside it."""

from __future__ import annotations

from conftest import SIZE, config_for, make_config, ready, start_server, status_text
from helpers import connect_as, wait_for
from textual.widgets import Static
from textual_plotext import PlotextPlot

from backend.thresholds import HealthThresholds, Threshold
from tui.app import FrontdeskApp
from tui.screens.performance import PerformanceScreen


async def test_a_fresh_terminal_charts_the_hour_and_shows_a_breach_with_its_threshold(tmp_path):
    thresholds = HealthThresholds(connections=Threshold(warning=2, critical=10))
    server = await start_server(make_config(tmp_path, health=thresholds))
    try:
        ann = await connect_as(server, "ann")
        for room in ("101", "102", "103"):
            await ann.create(room)
        app = FrontdeskApp(await config_for(server, tmp_path, "meg"), bell=False)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app))
            await pilot.press("P")
            await wait_for(lambda: isinstance(app.screen, PerformanceScreen))
            health = app.screen.query_one("#health", Static)
            await wait_for(
                lambda: "Connections 2 (warning ≥ 2)" in str(health.render()),
                timeout=10,
                message=str(health.render()),
            )
            assert "Commit p99" in str(health.render())
            chart = app.screen.query_one("#chart-mutations_per_s", PlotextPlot)
            await pilot.pause()
            drawn = str(chart.render())
            assert "Mutations/s" in drawn and "(none)" not in drawn
        await ann.close()
    finally:
        await server.close()
