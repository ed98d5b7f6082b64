"""The engine keeps what ``welcome`` says: the staff directory, the SLA table, the bell period.

Offline predictions must decide as the server will: an assignee who is not an active account
is refused with the server's own reason, a deadline is the hotel's SLA table's, and both hold
after a restart with no server (the replica keeps them).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import make_config, start_server
from helpers import connect_as, wait_for
from offline_kit import drained, new_request, online, open_engine

from offline.errors import Rejected
from offline.events import MutationRejected
from protocol import Priority, SlaTable
from protocol.alerts import DEFAULT_REPEAT_SECONDS
from protocol.sla import DEFAULT_SLA

TYPO = "no account named bbo in the staff directory"
"""What the rule book (``StaffDirectory.check_assignee``) says of ``bbo``, on both sides."""


def caught_up(engine) -> bool:
    return online(engine) and not engine.status.catching_up


async def test_the_directory_outlives_a_restart_and_refuses_a_typo_offline(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: caught_up(ann))
        assert ann.staff is not None
        assert {(e.name, e.active) for e in ann.staff.entries} == {
            ("adam", True),
            ("ann", True),
            ("bob", True),
            ("meg", True),
        }
        request = await new_request(ann)
        await wait_for(lambda: drained(ann))
    finally:
        await ann.close()

    offline = await open_engine(tmp_path, None, "ann")  # the same replica, no server
    try:
        assert offline.staff is not None and "bob" in offline.staff.active
        with pytest.raises(Rejected) as refused:
            await offline.assign(request.id, "bbo")
        assert refused.value.fields == {"assignee": TYPO}
        with pytest.raises(Rejected) as refused:
            await new_request(offline, room="101", assignee="bbo")
        assert refused.value.fields == {"assignee": TYPO}
        assert offline.status.pending == 0, "nothing refused is queued"
        assert (await offline.assign(request.id, "bob")).assignee == "bob"
    finally:
        await offline.close()

    client = await connect_as(server, "meg")
    try:
        n = await client.mutate("assign", {"id": request.id, "assignee": "bbo"})
        answer = await client.outcome(n)
        assert answer["type"] == "reject"
        assert answer["fields"] == {"assignee": TYPO}, "the same reason the server gives"
    finally:
        await client.close()


async def test_a_staff_frame_updates_the_directory_at_once_and_in_the_replica(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: caught_up(ann))
        request = await new_request(ann)
        with pytest.raises(Rejected):
            await ann.assign(request.id, "carl")
        await server.accounts.add_user("carl", "staff", "carl-pass-long")
        await wait_for(lambda: ann.staff is not None and "carl" in ann.staff.active)
        assert (await ann.assign(request.id, "carl")).assignee == "carl"
        await server.accounts.disable_user("bob")
        await wait_for(lambda: ann.staff is not None and "bob" not in ann.staff.active)
        with pytest.raises(Rejected) as refused:
            await ann.assign(request.id, "bob")
        assert refused.value.fields == {"assignee": "bob is not an active account"}
        await ann.settle()
    finally:
        await ann.close()
    again = await open_engine(tmp_path, None, "ann")
    try:
        assert again.staff is not None
        assert "carl" in again.staff.active and "bob" not in again.staff.active
    finally:
        await again.close()


async def test_before_any_welcome_nothing_is_checked_and_the_defaults_apply(tmp_path):
    engine = await open_engine(tmp_path, None, "ann")
    try:
        assert engine.staff is None
        assert engine.sla == DEFAULT_SLA
        assert engine.alert_repeat_seconds == DEFAULT_REPEAT_SECONDS
        request = await new_request(engine, assignee="whoever")
        assert request.assignee == "whoever", "the server checks it when the edit reaches it"
    finally:
        await engine.close()


async def test_the_hotels_sla_table_predicts_offline_the_deadline_the_server_confirms(tmp_path):
    hotel = SlaTable(
        priority_minutes={Priority.NORMAL: 25}, overrides={"housekeeping": {Priority.NORMAL: 7}}
    )
    config = make_config(tmp_path, sla=hotel, alert_repeat_seconds=90.0)
    server = await start_server(config)
    try:
        ann = await open_engine(tmp_path, server, "ann")
        try:
            await wait_for(lambda: caught_up(ann))
            assert ann.sla == hotel
            assert ann.alert_repeat_seconds == 90.0
        finally:
            await ann.close()
        offline = await open_engine(tmp_path, None, "ann")
        try:
            assert offline.sla == hotel and offline.alert_repeat_seconds == 90.0
            towels = await new_request(offline, category="housekeeping")
            taxi = await new_request(offline, category="concierge", description="Taxi")
        finally:
            await offline.close()
        assert towels.due_at - towels.created_at == timedelta(minutes=7)  # built-in: 60
        assert taxi.due_at - taxi.created_at == timedelta(minutes=25)

        back = await open_engine(tmp_path, server, "ann")
        try:
            await wait_for(lambda: caught_up(back) and drained(back))
            for predicted in (towels, taxi):
                confirmed = back.get(predicted.id)
                assert confirmed is not None and confirmed.number is not None
                allowed = confirmed.due_at - confirmed.created_at
                assert allowed == predicted.due_at - predicted.created_at
        finally:
            await back.close()
    finally:
        await server.close()


async def test_a_second_window_on_the_replica_refuses_a_typo_from_the_leaders_directory(
    server, tmp_path
):
    """The follower never talks to the server: it reads the directory the leader kept."""
    leader = await open_engine(tmp_path, server, "ann")
    follower = await open_engine(tmp_path, server, "ann")
    try:
        assert leader.is_leader and not follower.is_leader
        await wait_for(lambda: caught_up(leader))
        await wait_for(lambda: follower.staff is not None, timeout=3, message="follower")
        request = await new_request(follower)
        with pytest.raises(Rejected) as refused:
            await follower.assign(request.id, "bbo")
        assert refused.value.fields == {"assignee": TYPO}
        await server.accounts.add_user("carl", "staff", "carl-pass-long")
        await wait_for(lambda: follower.staff is not None and "carl" in follower.staff.active)
        await wait_for(lambda: drained(leader) and drained(follower), timeout=3)
    finally:
        await follower.close()
        await leader.close()


async def test_a_typo_queued_before_any_directory_is_refused_with_the_reason(server, tmp_path):
    """A first start offline accepts any well-formed name (no directory yet); once the server
    is reached, the queued edit is refused with the directory's reason, told to the person."""
    first = await open_engine(tmp_path, None, "ann")
    try:
        await new_request(first, room="101", assignee="bbo")
    finally:
        await first.close()
    engine = await open_engine(tmp_path, server, "ann", start=False)
    refusals: list[MutationRejected] = []
    engine.subscribe(lambda e: refusals.append(e) if isinstance(e, MutationRejected) else None)
    try:
        await engine.start()
        await wait_for(lambda: caught_up(engine) and drained(engine))
        (refused,) = refusals
        assert refused.name == "create_request" and refused.fields == {"assignee": TYPO}
        assert engine.requests() == [], "nothing the server refused stays shown"
    finally:
        await engine.close()
