"""Presence in the TUI: who else has a request open or is editing it; online staff to assign."""

from __future__ import annotations

from conftest import SIZE, config_for, ready, table_text
from helpers import wait_for
from offline_kit import new_request, online, open_engine

from tui.app import FrontdeskApp
from tui.screens.assign_form import ONLINE_MARK, AssignForm
from tui.screens.detail import DetailScreen
from tui.screens.queue import QueueScreen
from tui.screens.request_form import RequestForm


def viewing(engine, user: str) -> tuple[str | None, bool] | None:
    """What ``user`` views and whether they edit, as ``engine`` knows it (None: not online)."""
    entry = next((e for e in engine.presence() if e.user == user), None)
    return None if entry is None else (entry.viewing, entry.editing)


def presence_line(app) -> str:
    screen = app.screen
    return screen.presence_text() if isinstance(screen, DetailScreen) else ""


async def open_detail(app, pilot, room: str) -> None:
    await wait_for(lambda: any(room in line for line in table_text(app)), message=room)
    await pilot.press("enter")
    await wait_for(lambda: isinstance(app.screen, DetailScreen))


async def test_opening_a_detail_shows_each_user_to_the_other_viewing_or_editing(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    try:
        request = await new_request(bob, room="817", description="leak")
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await wait_for(lambda: viewing(bob, "ann") == (None, False), message="ann online")
            await open_detail(app, pilot, "817")
            await wait_for(lambda: viewing(bob, "ann") == (request.id, False))
            assert presence_line(app) == "", "nobody else has it open yet"

            bob.set_presence(request.id, False)
            await wait_for(lambda: "bob viewing" in presence_line(app), message=presence_line(app))
            bob.set_presence(request.id, True)
            await wait_for(lambda: "bob editing" in presence_line(app), message=presence_line(app))
            assert "ann" not in presence_line(app), "this user is not listed to themselves"

            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, RequestForm))
            await wait_for(lambda: viewing(bob, "ann") == (request.id, True), message="editing")
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, DetailScreen))
            await wait_for(lambda: viewing(bob, "ann") == (request.id, False), message="viewing")

            await pilot.press("n")
            await wait_for(lambda: viewing(bob, "ann") == (request.id, True), message="noting")
            await pilot.press("escape")
            await wait_for(lambda: viewing(bob, "ann") == (request.id, False))

            bob.set_presence(None, False)
            await wait_for(lambda: presence_line(app) == "", message=presence_line(app))
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, QueueScreen))
            await wait_for(lambda: viewing(bob, "ann") == (None, False), message="closed")
    finally:
        await bob.close()


async def test_a_terminal_that_disconnects_leaves_the_detail(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob")
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    try:
        request = await new_request(bob, room="817", description="leak")
        bob.set_presence(request.id, False)
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            await open_detail(app, pilot, "817")
            await wait_for(lambda: "bob viewing" in presence_line(app), message=presence_line(app))
            await bob.close()
            await wait_for(lambda: presence_line(app) == "", message=presence_line(app))
    finally:
        await bob.close()


async def test_the_assignee_picker_lists_the_directory_staff_online_first(server, tmp_path):
    await server.accounts.add_user("carl", "staff", "carl-pass-long")  # in the directory
    meg = await open_engine(tmp_path, server, "meg")
    adam = await open_engine(tmp_path, server, "adam")
    app = FrontdeskApp(await config_for(server, tmp_path, "ann"))
    try:
        await new_request(meg, room="101", assignee="carl")
        await new_request(meg, room="102", assignee="carl")
        await wait_for(lambda: online(meg) and online(adam))
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            assert app.engine is not None
            await wait_for(lambda: viewing(app.engine, "meg") is not None, message="meg online")
            await wait_for(lambda: any("101" in line for line in table_text(app)))
            await pilot.press("A")
            await wait_for(lambda: isinstance(app.screen, AssignForm))
            await pilot.press(*["backspace"] * 4)  # the field starts with the assignee, carl
            await pilot.pause()
            listed = app.screen.shown_names()
            assert listed == [
                "ann" + ONLINE_MARK,
                "meg" + ONLINE_MARK,
                "bob",
                "carl",
            ], "me, then staff online (not the admin), then the directory's other accounts"
    finally:
        await meg.close()
        await adam.close()
