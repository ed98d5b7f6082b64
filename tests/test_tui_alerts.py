"""Alerts are records: what a night manager sees of them in the TUI, against the real server.

A terminal that was away shows every unacknowledged alert when it is back (banner, counter,
the alerts screen) and rings once for them; an acknowledgement made offline reaches the other
terminals with who and when; a flood of alerts is one notice and never a toast over a form;
a staff member who may not acknowledge is told why, in the rule book's words.
"""

from __future__ import annotations

import dataclasses

from conftest import (
    SIZE,
    config_for,
    make_config,
    offline_app,
    ready,
    start_server,
    status_text,
    toast_texts,
)
from faults import FaultyProxy, pick_seed
from helpers import wait_for
from offline_kit import drained, new_request, open_engine
from textual.widgets import Input, OptionList

from protocol.alerts import check_acknowledge
from protocol.models import Role
from protocol.rules import Actor
from tui.alert_desk import AlertDesk
from tui.app import FrontdeskApp
from tui.screens.alerts import AlertsScreen
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm
from tui.widgets.alert_banner import AlertBanner
from tui.widgets.request_table import RequestTable

REPEAT = 2.5
"""Seconds before an unacknowledged alert rings again on the repeat test's server (above the
app's ``BELL_GAP``, so the repeat is a ring of its own)."""
REFUSED = "only a manager or the request's assignee may acknowledge its alerts"


def desk(app: FrontdeskApp) -> AlertDesk:
    assert app.alert_desk is not None
    return app.alert_desk


def banner_text(app: FrontdeskApp) -> str:
    banner = app.screen.query_one(AlertBanner)
    return str(banner.render()) if banner.display else ""


def alerts_lines(app: FrontdeskApp) -> list[str]:
    """The alerts screen's list as drawn."""
    options = app.screen.query_one(OptionList)
    return [options.render_line(y).text.rstrip() for y in range(options.size.height)]


async def open_alerts_screen(app: FrontdeskApp, pilot) -> AlertsScreen:
    await pilot.press("b")
    await wait_for(lambda: isinstance(app.screen, AlertsScreen), message="no alerts screen")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, AlertsScreen)
    return screen


async def test_a_terminal_offline_while_an_urgent_request_is_created_shows_it_on_return(
    server, tmp_path
):
    proxy = await FaultyProxy(server.port, pick_seed()).start()
    config = dataclasses.replace(
        await config_for(server, tmp_path, "meg"), server_url=proxy.url, backoff_cap=0.3
    )
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(config)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            proxy.outage(True)
            await wait_for(lambda: "online" not in status_text(app), message=status_text(app))
            leak = await new_request(
                bob, room="817", description="Leak [b]now[/b]", priority="urgent"
            )
            await wait_for(lambda: drained(bob), message="bob's create not delivered")
            assert app.alert_count == 0 and desk(app).rings == 0

            proxy.outage(False)
            await wait_for(lambda: app.alert_count == 1, timeout=10, message="no alert on return")
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            await pilot.pause()
            assert "Leak [b]now[/b]" in banner_text(app) and "room 817" in banner_text(app)
            assert "⚠ 1 alerts" in status_text(app) and "⚠ 1" in str(app.screen.sub_title)
            await wait_for(lambda: desk(app).rings == 1, message="the bell did not ring")
            assert any("Raised while away" in t for t in toast_texts(app))

            screen = await open_alerts_screen(app, pilot)
            lines = alerts_lines(app)
            assert lines[0].startswith("Open, oldest first · 1"), lines
            assert "urgent" in lines[1] and "817" in lines[1] and "Leak [b]now[/b]" in lines[1]
            assert screen.highlighted_ref() is not None
            assert screen.highlighted_ref().request.id == leak.id  # type: ignore[union-attr]
            assert desk(app).rings == 1  # once for the alerts raised while away, not per page
    finally:
        await bob.close()
        await proxy.close()


async def test_an_alert_stays_on_a_terminal_restarted_without_its_server(server, tmp_path):
    config = await config_for(server, tmp_path, "meg")
    bob = await open_engine(tmp_path, server, "bob")
    try:
        await new_request(bob, room="817", description="Leak", priority="urgent")
        app = FrontdeskApp(config)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: app.alert_count == 1, message="no alert")
        # The night: the terminal is closed, and opens again with no server to reach.
        offline = FrontdeskApp(dataclasses.replace(config, server_url=None, token=None))
        async with offline.run_test(size=SIZE) as pilot:
            await ready(offline, pilot)
            await wait_for(lambda: offline.alert_count == 1, message="alert lost on restart")
            await pilot.pause()
            assert "Leak" in banner_text(offline)
            assert desk(offline).rings == 0  # nothing new: it rang when it came
    finally:
        await bob.close()


async def test_an_acknowledgement_made_offline_reaches_another_terminal_after_sync(
    server, tmp_path
):
    bob = await open_engine(tmp_path, server, "bob")
    meg = await open_engine(tmp_path, server, "meg")
    app = FrontdeskApp(await config_for(server, tmp_path, "bob"), bell=False)
    try:
        leak = await new_request(bob, room="817", description="Leak", priority="urgent")
        await wait_for(lambda: drained(bob) and meg.get(leak.id) is not None)
        await meg.close()
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: app.alert_count == 1, message="no alert on bob's terminal")

            # Meg's terminal, with no network: the acknowledgement waits in her outbox.
            meg = await open_engine(tmp_path, server, "meg", start=False)
            assert [r.request.id for r in meg.open_alerts()] == [leak.id]
            await meg.acknowledge_alert(leak.id, 0)
            assert meg.open_alerts() == [] and meg.status.pending == 1
            await pilot.pause()
            assert app.alert_count == 1  # not delivered yet

            await meg.start()
            await wait_for(lambda: app.alert_count == 0, timeout=10, message="ack not arrived")
            await pilot.pause()
            assert banner_text(app) == "" and "alerts" not in status_text(app)
            await open_alerts_screen(app, pilot)
            lines = alerts_lines(app)
            assert lines[0].startswith("No open alerts"), lines
            assert lines[1].startswith("Acknowledged, most recent first · 1"), lines
            assert "817" in lines[2] and "meg after" in lines[2], lines
            row = app.engine.get(leak.id) if app.engine else None
            assert row is not None and row.alerts[0].acknowledged_by == "meg"
            assert row.alerts[0].acknowledged_at is not None
    finally:
        await bob.close()
        await meg.close()


async def test_a_flood_of_alerts_is_one_notice_and_never_a_toast_over_a_form(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob", start=False)
    app = FrontdeskApp(await config_for(server, tmp_path, "meg"))
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            await pilot.press("n", *"1204")
            await wait_for(lambda: isinstance(app.screen, RequestForm), message="no form")
            for i in range(60):  # made offline, delivered in one go: a flood
                await new_request(bob, room=str(300 + i), description="Flood", priority="urgent")
            await bob.start()
            await wait_for(lambda: app.alert_count == 60, timeout=15, message="not 60 alerts")
            await wait_for(lambda: desk(app).holding == 60, timeout=5, message="not held")
            await pilot.pause()
            assert isinstance(app.screen, RequestForm)
            assert toast_texts(app) == [], toast_texts(app)  # nothing over the form
            assert desk(app).rings <= 2, desk(app).rings  # a burst, not one ring per alert
            assert app.screen.query_one("#room", Input).value == "1204"  # still as typed
            queue = next(s for s in app.screen_stack if isinstance(s, QueueScreen))
            assert "⚠ 60" in str(queue.sub_title)  # the counter moved behind the form

            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, QueueScreen))
            await wait_for(lambda: toast_texts(app) != [], message="the held notice never came")
            await pilot.pause(0.6)
            toasts = toast_texts(app)
            assert len(toasts) == 1 and "60 alerts while the form was open" in toasts[0], toasts
            assert "+59 more" in banner_text(app)
            assert desk(app).notices == 1
    finally:
        await bob.close()


async def test_a_manager_marks_alerts_and_acknowledges_them_in_one_go(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "meg"), bell=False)
    try:
        made = [
            await new_request(bob, room=room, description="Leak", priority="urgent")
            for room in ("101", "102", "103")
        ]
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: app.alert_count == 3, message="not 3 alerts")
            await pilot.press("colon", *"alerts", "enter")  # k9s style; `b` is the key
            await wait_for(lambda: isinstance(app.screen, AlertsScreen), message=":alerts")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AlertsScreen)
            await pilot.press("space", "space")  # marks 101 and 102 (the cursor moves down)
            assert len(screen.marked) == 2 and "2 marked" in str(screen.sub_title)
            assert alerts_lines(app)[1].startswith("✓") and alerts_lines(app)[2].startswith("✓")
            await pilot.press("a")
            await wait_for(lambda: app.alert_count == 1, message="not acknowledged")
            await pilot.pause()
            lines = alerts_lines(app)
            assert lines[0].startswith("Open, oldest first · 1") and "103" in lines[1], lines
            assert lines[2].startswith("Acknowledged, most recent first · 2"), lines
            assert all("meg after" in line for line in lines[3:5]), lines
            assert screen.marked == set()

            # Recorded on the server, each with who and when: bob's terminal gets them.
            def acknowledged_by_meg(rid: str) -> bool:
                row = bob.get(rid)
                return row is not None and row.alerts[0].acknowledged_by == "meg"

            await wait_for(
                lambda: all(acknowledged_by_meg(r.id) for r in made[:2]),
                timeout=10,
                message="acknowledgements not on the server",
            )
            assert not acknowledged_by_meg(made[2].id)

            await pilot.press("asterisk", "a")  # every open alert meg may acknowledge
            await wait_for(lambda: app.alert_count == 0, message="mark all + a left some")
    finally:
        await bob.close()


async def test_a_staff_member_who_is_not_the_assignee_is_told_why_not(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"), bell=False)
    try:
        leak = await new_request(
            bob, room="817", description="Leak", priority="urgent", assignee="bob"
        )
        refusal = check_acknowledge(leak, 0, Actor("ann", Role.STAFF))
        assert refusal is not None and refusal.message == REFUSED
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: app.alert_count == 1, message="no alert on ann's terminal")
            await pilot.press("exclamation_mark")
            await wait_for(lambda: any(REFUSED in t for t in toast_texts(app)), message="no why")
            assert app.alert_count == 1 and app.engine is not None
            assert app.engine.status.pending == 0  # refused here: nothing queued

            app.clear_notifications()
            screen = await open_alerts_screen(app, pilot)
            await pilot.press("space")
            await wait_for(lambda: any(REFUSED in t for t in toast_texts(app)), message="mark")
            assert screen.marked == set()
            app.clear_notifications()
            await pilot.press("a")
            await wait_for(lambda: any(REFUSED in t for t in toast_texts(app)), message="ack")
            assert app.alert_count == 1
    finally:
        await bob.close()


async def test_bang_acknowledges_the_oldest_alert_i_may_and_jumps_to_its_request(server, tmp_path):
    """Ann (staff) may acknowledge only her own requests' alerts: ``!`` skips bob's."""
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"), bell=False)
    try:
        await new_request(bob, room="101", description="Bob's", priority="urgent", assignee="bob")
        mine = await new_request(
            bob, room="202", description="Ann's", priority="urgent", assignee="ann"
        )
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: app.alert_count == 2, message="not 2 alerts")
            await pilot.press("exclamation_mark")
            await wait_for(lambda: app.alert_count == 1, message="not acknowledged")
            table = app.screen.query_one(RequestTable)
            assert table.cursor_request is not None and table.cursor_request.id == mine.id
            assert desk(app).open[0].request.room == "101"
    finally:
        await bob.close()


async def test_a_live_alert_rings_once_and_again_while_nobody_acknowledges_it(tmp_path):
    """The bell is the ``alert`` frame: once when the alert is raised, once per repeat, and the
    banner says when it rings next (the server's ``alert_repeat_seconds``)."""
    server = await start_server(
        make_config(tmp_path, alert_repeat_seconds=REPEAT, sla_check_seconds=0.2)
    )
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "meg"), bell=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            await new_request(bob, room="817", description="Leak", priority="urgent")
            await wait_for(lambda: desk(app).rings == 1, message="no bell")
            assert app.alert_count == 1 and desk(app).notices == 1
            await pilot.pause()
            assert "bell again in" in banner_text(app) or "bell due" in banner_text(app)
            await wait_for(lambda: desk(app).rings == 2, timeout=REPEAT * 4, message="no repeat")
            assert app.alert_count == 1  # a repeat is the same alert, not a new one
    finally:
        await bob.close()
        await server.close()


async def test_a_request_closed_before_its_alert_was_acknowledged_leaves_the_banner(tmp_path):
    """Nobody is called to a completed request any more (the server rings it no more either),
    but its alert still waits for someone to take responsibility, on the alerts screen."""
    app = offline_app(tmp_path, "meg", Role.MANAGER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        leak = await app.engine.create_request(
            room="817", category="maintenance", description="Leak", priority="urgent"
        )
        await wait_for(lambda: app.alert_count == 1, message="no alert")
        await app.engine.set_status(leak.id, "in_progress")
        await app.engine.set_status(leak.id, "completed")
        await wait_for(lambda: app.alert_count == 0, message="still in the banner")
        await pilot.pause()
        assert banner_text(app) == ""
        await open_alerts_screen(app, pilot)
        lines = alerts_lines(app)
        assert lines[0] == "No open alerts.", lines
        assert lines[1].startswith("Request closed, alert not acknowledged · 1"), lines
        assert "completed · Leak" in lines[2], lines
        await pilot.press("a")
        await wait_for(lambda: app.engine is not None and app.engine.open_alerts() == [])
        await pilot.pause()
        assert "meg after" in alerts_lines(app)[2], alerts_lines(app)
