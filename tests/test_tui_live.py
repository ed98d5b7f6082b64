"""The TUI against a real server: tickets get numbers, others' changes appear, refusals show."""

from __future__ import annotations

from dataclasses import replace

from conftest import SIZE, config_for, log_request, ready, status_text, table_text, toast_texts
from helpers import wait_for
from offline_kit import Restartable

from offline.engine import Engine
from offline.session import load_session
from protocol.models import Role, Status
from tui.app import FrontdeskApp
from tui.screens.queue import QueueScreen
from tui.screens.sign_in import SignInScreen
from tui.widgets.request_table import RequestTable


async def test_a_request_logged_online_gets_its_ticket_number_and_stops_being_pending(
    server, tmp_path
):
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await wait_for(lambda: "online" in status_text(app), message=status_text(app))
        await log_request(pilot, "1204", "towels")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await wait_for(
            lambda: any("#1 " in line and "1204" in line for line in table_text(app)),
            message="\n".join(table_text(app)[:3]),
        )
        await wait_for(lambda: "0 pending" in status_text(app), message=status_text(app))
        row = next(line for line in table_text(app) if "1204" in line)
        assert "⟳" not in row


async def test_a_change_made_in_another_terminal_appears_in_the_queue(server, tmp_path):
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    bob = await Engine.open(await config_for(server, tmp_path, "bob"))
    await bob.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            request = await bob.create_request(
                room="817", category="maintenance", description="Leak", priority="urgent"
            )
            await wait_for(lambda: any("817" in line for line in table_text(app)))
            await bob.set_status(request.id, "acknowledged")
            await wait_for(
                lambda: any("817" in ln and "acknowledged" in ln for ln in table_text(app)),
                message="\n".join(table_text(app)[:3]),
            )
    finally:
        await bob.close()


async def test_an_edit_the_server_refuses_is_rolled_back_with_its_reason_shown(server, tmp_path):
    ann = await Engine.open(await config_for(server, tmp_path, "ann"))
    await ann.start()
    # Bob's terminal believes he is a manager; the server knows better.
    app = FrontdeskApp(await config_for(server, tmp_path, "bob", role=Role.MANAGER))
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await ready(app, pilot)
            request = await ann.create_request(
                room="1204", category="housekeeping", description="towels", priority="normal"
            )
            await wait_for(lambda: any("1204" in line for line in table_text(app)))
            await pilot.press("x")
            await wait_for(
                lambda: any("manager" in text for text in toast_texts(app)),
                message="no notification of the refusal",
            )
            assert app.engine is not None
            await wait_for(lambda: app.engine.get(request.id).status == Status.PENDING)
            await wait_for(lambda: any("pending " in ln for ln in table_text(app)))
    finally:
        await ann.close()


async def test_an_urgent_request_from_another_terminal_raises_an_alert_until_acknowledged(
    server, tmp_path
):
    app = FrontdeskApp(await config_for(server, tmp_path, "meg"))
    bob = await Engine.open(await config_for(server, tmp_path, "bob"))
    await bob.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            await bob.create_request(
                room="817",
                category="maintenance",
                description="Flood [b]now[/b]",
                priority="urgent",
            )
            await wait_for(lambda: app.alert_count == 1, message="no alert arrived")
            await pilot.pause()
            banner = app.screen.query_one("#alert-banner")
            assert banner.display
            assert "Flood [b]now[/b]" in str(banner.render())
            assert "1 alerts" in status_text(app) and "⚠ 1" in app.screen.sub_title
            await pilot.press("exclamation_mark")
            await wait_for(lambda: app.alert_count == 0)
            table = app.screen.query_one(RequestTable)
            assert table.cursor_request is not None and table.cursor_request.room == "817"
            await pilot.pause()
            assert not banner.display and "alerts" not in status_text(app)
    finally:
        await bob.close()


async def test_a_refused_token_asks_for_the_password_and_pending_edits_then_arrive(
    server, tmp_path
):
    config = await config_for(server, tmp_path, "ann")
    app = FrontdeskApp(replace(config, token="expired-or-revoked"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: isinstance(app.screen, SignInScreen), message="no sign-in asked")
        await pilot.press("escape")  # keep working offline first
        await ready(app, pilot)
        assert "offline" in status_text(app)
        await log_request(pilot, "1204", "towels")
        await wait_for(lambda: "1 pending" in status_text(app))
        await app.run_action("app.sign_in")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        await pilot.press(*"wrong", "enter")
        error = app.screen.query_one("#sign-in-error")
        await wait_for(lambda: "wrong user name or password" in str(error.render()))
        await pilot.press(*"ann-pass", "enter")
        await wait_for(lambda: isinstance(app.screen, QueueScreen))
        await wait_for(lambda: "online" in status_text(app), message=status_text(app))
        await wait_for(lambda: "0 pending" in status_text(app), message=status_text(app))
        assert load_session(config.data_dir) is not None


async def test_the_desk_keeps_working_through_an_outage_and_catches_up_after(tmp_path):
    box = Restartable(tmp_path)
    server = await box.start()
    try:
        config = replace(await config_for(server, tmp_path, "ann"), backoff_cap=0.5)
        app = FrontdeskApp(config)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: "online" in status_text(app), message=status_text(app))
            await box.stop()
            await wait_for(lambda: "offline" in status_text(app), message=status_text(app))
            await log_request(pilot, "817", "leak")
            await wait_for(lambda: isinstance(app.screen, QueueScreen))
            await pilot.press("a")
            await wait_for(lambda: "2 pending" in status_text(app), message=status_text(app))
            row = next(line for line in table_text(app) if "817" in line)
            assert "⟳" in row and "acknowledged" in row and "…" in row
            await box.start()
            await wait_for(
                lambda: "online" in status_text(app) and "0 pending" in status_text(app),
                timeout=15,
                message=status_text(app),
            )
            await wait_for(lambda: any("#1 " in ln and "817" in ln for ln in table_text(app)))
            row = next(line for line in table_text(app) if "817" in line)
            assert "⟳" not in row and "acknowledged" in row
    finally:
        await box.stop()
