"""The engine's alerts: derived from the view's rows, acknowledged through the outbox, and told
to listeners once per catch-up (the alerts raised while this terminal was away)."""

from __future__ import annotations

from conftest import make_config, start_server
from helpers import wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.engine import Engine
from offline.errors import Rejected
from offline.events import AlertsChanged, EngineEvent


def alert_events(engine: Engine) -> list[AlertsChanged]:
    seen: list[AlertsChanged] = []

    def listen(event: EngineEvent) -> None:
        if isinstance(event, AlertsChanged):
            seen.append(event)

    engine.subscribe(listen)
    return seen


async def test_open_alerts_come_from_rows_oldest_first_and_acknowledged_ones_say_who(
    server, tmp_path
):
    meg = await open_engine(tmp_path, server, "meg")
    try:
        first = await new_request(meg, room="101", priority="urgent")
        second = await new_request(meg, room="102", priority="urgent")
        await new_request(meg, room="103", priority="normal")
        assert [r.request.id for r in meg.open_alerts()] == [first.id, second.id]
        assert meg.open_alert_count == 2
        await meg.acknowledge_alert(first.id, 0)  # predicted at once, pending for the server
        assert [r.request.id for r in meg.open_alerts()] == [second.id]
        everything = meg.alerts()
        assert [(r.request.id, r.alert.is_open) for r in everything] == [
            (second.id, True),
            (first.id, False),
        ]
        assert everything[1].alert.acknowledged_by == "meg"
        await wait_for(lambda: drained(meg), message="not delivered")
        confirmed = meg.get(first.id)
        assert confirmed is not None and confirmed.alerts[0].acknowledged_by == "meg"
        # A second acknowledgement changes nothing: the first stays on record.
        at = confirmed.alerts[0].acknowledged_at
        await meg.acknowledge_alert(first.id, 0)
        await wait_for(lambda: drained(meg), message="second ack not answered")
        again = meg.get(first.id)
        assert again is not None and again.alerts[0].acknowledged_at == at
    finally:
        await meg.close()


async def test_staff_may_not_acknowledge_another_assignees_alert(server, tmp_path):
    bob = await open_engine(tmp_path, server, "bob")
    ann = await open_engine(tmp_path, server, "ann")
    try:
        leak = await new_request(bob, room="817", priority="urgent", assignee="bob")
        await wait_for(lambda: ann.get(leak.id) is not None, message="not on ann's terminal")
        try:
            await ann.acknowledge_alert(leak.id, 0)
        except Rejected as refused:
            assert str(refused) == (
                "only a manager or the request's assignee may acknowledge its alerts"
            )
        else:
            raise AssertionError("ann acknowledged bob's alert")
        assert ann.status.pending == 0 and len(ann.open_alerts()) == 1
        await bob.acknowledge_alert(leak.id, 0)  # the assignee may
        await wait_for(lambda: ann.open_alerts() == [], message="bob's ack not on ann's")
    finally:
        await bob.close()
        await ann.close()


async def test_alerts_raised_while_away_are_told_once_when_the_catch_up_ends(tmp_path):
    server = await start_server(make_config(tmp_path, catchup_page_size=1))  # page by page
    bob = await open_engine(tmp_path, server, "bob")
    await new_request(bob, room="100", priority="low")
    await wait_for(lambda: drained(bob))
    meg = await open_engine(tmp_path, server, "meg")
    await wait_for(lambda: online(meg) and not meg.status.catching_up)
    await meg.close()
    try:
        made = [await new_request(bob, room=str(400 + i), priority="urgent") for i in range(3)]
        await wait_for(lambda: drained(bob))
        meg = await open_engine(tmp_path, server, "meg", start=False)
        events = alert_events(meg)
        await meg.start()
        await wait_for(lambda: online(meg) and not meg.status.catching_up, message="no sync")
        away = [e for e in events if e.caught_up]
        assert len(away) == 1, events
        assert sorted(away[0].raised) == sorted((r.id, 0) for r in made)
        assert not any(e.raised for e in events if not e.caught_up), events

        # A new terminal was not away: its first catch-up shows the alerts, announces none.
        ann = await open_engine(tmp_path, server, "ann", start=False)
        first = alert_events(ann)
        await ann.start()
        await wait_for(lambda: online(ann) and not ann.status.catching_up, message="no sync")
        assert len(ann.open_alerts()) == 3
        assert first and not any(e.raised for e in first), first
        await ann.close()
    finally:
        await bob.close()
        await meg.close()
        await server.close()


async def test_alerts_already_in_the_replica_are_not_new_when_it_opens(server, tmp_path):
    meg = await open_engine(tmp_path, server, "meg")
    try:
        await new_request(meg, room="817", priority="urgent")
        await new_request(meg, room="818", priority="normal")  # the one loaded first
        await wait_for(lambda: drained(meg))
    finally:
        await meg.close()
    reopened = await Engine.open(meg.config, first=1)
    events = alert_events(reopened)
    try:
        assert reopened.open_alerts() == []  # the urgent row is not loaded yet
        await reopened.loaded()
        assert len(reopened.open_alerts()) == 1
        assert all(not e.raised for e in events), events
    finally:
        await reopened.close()
