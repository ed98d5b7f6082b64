"""Presence through the engine: who else is online and what they look at; a refused token."""

from __future__ import annotations

from helpers import token_for, wait_for
from offline_kit import new_request, online, open_engine

from offline.events import PresenceChanged, PresenceEntry
from protocol import Role


def entry(engine, user: str) -> PresenceEntry | None:
    return next((e for e in engine.presence() if e.user == user), None)


async def test_what_one_terminal_views_and_edits_shows_in_the_others(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    bob = await open_engine(tmp_path, server, "bob")
    seen: list[PresenceChanged] = []
    bob.subscribe(lambda e: seen.append(e) if isinstance(e, PresenceChanged) else None)
    try:
        request = await new_request(ann)
        await wait_for(lambda: online(ann) and online(bob))
        await wait_for(lambda: entry(bob, "ann") is not None, message="ann online for bob")
        assert entry(bob, "ann") == PresenceEntry("ann", Role.STAFF, None, False)
        ann.set_presence(request.id, False)
        await wait_for(lambda: entry(bob, "ann").viewing == request.id, message=str(bob.presence()))
        ann.set_presence(request.id, True)
        await wait_for(lambda: entry(bob, "ann").editing, message=str(bob.presence()))
        assert seen and seen[-1].users == tuple(bob.presence())
        ann.set_presence(None, False)
        await wait_for(lambda: entry(bob, "ann").viewing is None, message=str(bob.presence()))
    finally:
        await ann.close()
        await bob.close()


async def test_rapid_changes_arrive_as_the_last_one(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    bob = await open_engine(tmp_path, server, "bob")
    try:
        await wait_for(lambda: online(ann) and entry(bob, "ann") is not None)
        for i in range(200):  # far past the server's chatter limit, were each one sent
            ann.set_presence(f"request-{i}", i % 2 == 0)
        await wait_for(lambda: getattr(entry(bob, "ann"), "viewing", None) == "request-199")
        assert online(ann), "not closed for chatter"
    finally:
        await ann.close()
        await bob.close()


async def test_presence_is_sent_again_after_a_reconnect_and_not_while_offline(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann", token="not-a-token")
    bob = await open_engine(tmp_path, server, "bob")
    try:
        await wait_for(lambda: ann.status.needs_sign_in, message="refused token")
        ann.set_presence("r-1", True)  # offline: only remembered
        assert ann.presence() == []
        ann.set_token(await token_for(server, "ann", "ann-pass"))
        await wait_for(lambda: online(ann))
        await wait_for(
            lambda: entry(bob, "ann") == PresenceEntry("ann", Role.STAFF, "r-1", True),
            message=str(bob.presence()),
        )
        assert entry(ann, "bob") is not None, "the list arrives in the reconnecting terminal"
    finally:
        await ann.close()
        await bob.close()


async def test_a_terminal_that_disconnects_disappears_from_the_others(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    bob = await open_engine(tmp_path, server, "bob")
    try:
        await wait_for(lambda: entry(bob, "ann") is not None and entry(ann, "bob") is not None)
        await ann.close()
        await wait_for(lambda: entry(bob, "ann") is None, message=str(bob.presence()))
    finally:
        await ann.close()
        await bob.close()
    assert bob.presence() == [], "an engine that is not connected knows nobody online"


async def test_a_revoked_token_asks_for_sign_in(server, tmp_path):
    ann = await open_engine(tmp_path, server, "ann")
    try:
        await wait_for(lambda: online(ann))
        assert not ann.status.needs_sign_in
        await server.accounts.revoke_tokens("ann")
        await server.run_job("tokens")  # what the server's periodic job does: close 4401
        await wait_for(lambda: ann.status.needs_sign_in, message=str(ann.status))
        assert ann.status.connection == "offline"
        ann.set_token(await token_for(server, "ann", "ann-pass"))
        await wait_for(lambda: online(ann))
        assert not ann.status.needs_sign_in
    finally:
        await ann.close()


async def test_an_unreachable_server_is_not_a_sign_in_problem(tmp_path):
    ann = await open_engine(tmp_path, None, "ann", url="http://127.0.0.1:9", token="t")
    try:
        await wait_for(lambda: ann.status.reason is not None and ann.status.reconnects == 0)
        await wait_for(lambda: ann.status.connection == "offline")
        assert not ann.status.needs_sign_in
    finally:
        await ann.close()


async def test_the_link_reports_the_outbox_age_while_queued_and_once_when_drained(monkeypatch):
    """The ``presence`` frame carries how long the oldest queued edit has waited, at once on a
    new connection, again every report period while something is queued, and null once the
    queue drains, so the server's figure does not stay stuck at the last age it heard."""
    import asyncio
    import json

    from offline import presence

    monkeypatch.setattr(presence, "OUTBOX_CHECK_SECONDS", 0.02)
    monkeypatch.setattr(presence, "OUTBOX_REPORT_SECONDS", 0.05)
    queued: list[float | None] = [4200.0]
    frames: list[dict] = []
    looked: list[int] = [0]

    def outbox_age() -> float | None:
        looked[0] += 1
        return queued[0]

    async def send(text: str) -> None:
        frames.append(json.loads(text))

    link = presence.PresenceLink(lambda _event: None, outbox_age)
    task = asyncio.create_task(link.run(send))
    try:
        await wait_for(lambda: len(frames) >= 2, message=str(frames))
        assert [f["outbox_age"] for f in frames[:2]] == [4200.0, 4200.0]
        queued[0] = None
        await wait_for(lambda: "outbox_age" not in frames[-1], message=str(frames))
        count, looks = len(frames), looked[0]
        await wait_for(lambda: looked[0] >= looks + 10)  # ten more looks at the empty outbox
        assert len(frames) == count, "a drained queue is said once, not every period"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
