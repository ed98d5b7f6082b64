"""The new-request form suggests a category and priority and names a likely duplicate."""

from __future__ import annotations

from conftest import SIZE, offline_app, open_form
from helpers import wait_for
from textual.widgets import Select

from tui.screens.detail import DetailScreen
from tui.screens.request_form import RequestForm


def shown(form: RequestForm, widget_id: str) -> str:
    """What the form shows in ``widget_id`` ("" when hidden)."""
    widget = form.query_one(f"#{widget_id}")
    return str(widget.render()) if widget.display else ""


async def test_a_burst_pipe_is_suggested_as_urgent_maintenance_and_taken_with_ctrl_t(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press(*"817", "tab", *"burst pipe")
        await wait_for(lambda: "maintenance" in shown(form, "category-hint"))
        assert "urgent" in shown(form, "priority-hint")
        assert form.values()["category"] == "housekeeping"  # only a hint until taken
        await pilot.press("ctrl+t")
        assert (form.values()["category"], form.values()["priority"]) == ("maintenance", "urgent")
        assert shown(form, "category-hint") == shown(form, "priority-hint") == ""
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, RequestForm), message="form open")
        [request] = app.engine.requests()
        assert (request.category.value, request.priority.value) == ("maintenance", "urgent")


async def test_a_category_the_clerk_picked_is_never_changed_by_a_suggestion(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press(*"817", "tab", "tab")  # to the category list
        await pilot.press("enter", "down", "down", "down", "enter")  # picks Concierge
        await wait_for(lambda: form.values()["category"] == "concierge")
        form.query_one("#description").focus()
        await pilot.press(*"smoke from it")
        await wait_for(lambda: "urgent" in shown(form, "priority-hint"))
        assert shown(form, "category-hint") == ""
        await pilot.press("ctrl+t")
        assert (form.values()["category"], form.values()["priority"]) == ("concierge", "urgent")


async def test_picking_the_value_already_shown_counts_as_the_clerks_choice(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press(*"817", "tab", *"no hot water", "tab", "tab")  # to priority
        await wait_for(lambda: "high" in shown(form, "priority-hint"))
        await pilot.press("enter", "enter")  # opens the list and keeps "normal"
        await wait_for(lambda: shown(form, "priority-hint") == "")
        await pilot.press("ctrl+t")
        assert (form.values()["category"], form.values()["priority"]) == ("maintenance", "normal")
        assert not form.query_one("#priority", Select).expanded


async def test_an_open_request_for_the_same_room_is_named_and_enter_opens_it(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        first = await app.engine.create_request(
            room="1204", category="housekeeping", description="2 extra towels", priority="normal"
        )
        await app.engine.triage().settled()
        await pilot.press(*"1204", "tab", *"towels")
        await wait_for(lambda: "Looks like" in shown(form, "form-duplicate"))
        warning = shown(form, "form-duplicate")
        assert '"2 extra towels", open 0 min: Enter opens it, Ctrl+S logs anyway' in warning
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, DetailScreen), message="detail not open")
        assert app.screen.request_id == first.id
        assert len(app.engine.requests()) == 1


async def test_ctrl_s_logs_the_request_anyway_and_the_warning_shows_text_literally(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await app.engine.create_request(
            room="1204", category="housekeeping", description="2 [b]towels[/b]", priority="normal"
        )
        await app.engine.triage().settled()
        await pilot.press(*"1204", "tab", *"towels")
        await wait_for(lambda: "Looks like" in shown(form, "form-duplicate"))
        assert '"2 [b]towels[/b]"' in shown(form, "form-duplicate")  # markup shown, not applied
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, RequestForm), message="form open")
        assert len(app.engine.requests()) == 2
