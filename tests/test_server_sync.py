"""Two terminals on one server: changes travel both ways, exactly once, whatever is thrown at it."""

from __future__ import annotations

import json

import httpx
import pytest
from helpers import connect, connect_as, token_for, ws_url
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus


async def test_two_terminals_see_each_others_changes(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    created = await ann.create(room="1204", description="Two extra towels")
    seen_by_bob = await bob.recv_until("change")
    assert seen_by_bob["request"]["id"] == created["id"]
    assert seen_by_bob["by"] == {"user": "ann", "client_id": ann.client_id, "n": 1}
    seen_by_ann = await ann.recv_until("change")
    assert seen_by_ann["seq"] == seen_by_bob["seq"]

    n = await bob.mutate("set_status", {"id": created["id"], "status": "acknowledged"})
    ack = await bob.outcome(n)
    assert ack["type"] == "ack" and ack["request"]["status"] == "acknowledged"
    change = await ann.recv_until("change", where=lambda f: f["seq"] == ack["seq"])
    assert change["request"]["version"] == 2
    await ann.close()
    await bob.close()


async def test_created_requests_get_increasing_ticket_numbers(server):
    ann = await connect_as(server, "ann")
    first = await ann.create()
    second = await ann.create()
    assert first["number"] is not None and second["number"] == first["number"] + 1
    await ann.close()


async def test_a_resent_mutation_is_answered_the_same_and_applied_once(server):
    ann = await connect_as(server, "ann")
    created = await ann.create()
    args = {"id": created["id"], "text": "Guest asked twice"}
    n = await ann.mutate("add_note", args)
    first = await ann.outcome(n)
    await ann.mutate("add_note", args, n=n)
    again = await ann.outcome(n)
    assert again == first
    assert len(server.store.state.requests[created["id"]].notes) == 1
    await ann.close()

    # A reconnect with the same client id is told what is already in, and gets the same answer.
    token = await token_for(server, "ann", "ann-pass")
    back = await connect(server, token, client_id=ann.client_id, hello=False)
    await back.send({"type": "hello", "v": 1, "client_id": ann.client_id, "last_seq": 0})
    welcome = await back.recv_until("welcome")
    assert welcome["last_mutation"] == n
    await back.recv_until("synced")
    await back.mutate("add_note", args, n=n)
    assert await back.outcome(n) == first
    assert len(server.store.state.requests[created["id"]].notes) == 1
    await back.close()


async def test_a_resent_mutation_is_not_broadcast_again(server):
    ann = await connect_as(server, "ann")
    bob = await connect_as(server, "bob")
    created = await ann.create()
    await bob.recv_until("change")
    await ann.mutate("create_request", {}, n=1)  # resend of n=1 (args ignored: stored outcome)
    assert (await ann.outcome(1))["request"] == created
    marker = await ann.create(room="999")  # the next change bob sees must be this one
    change = await bob.recv_until("change")
    assert change["request"]["id"] == marker["id"]
    await ann.close()
    await bob.close()


async def test_a_bad_token_is_refused_before_the_upgrade(server):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic eDp5"}):
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(ws_url(server), additional_headers=headers)
        assert refused.value.response.status_code == 401


async def test_a_token_in_the_query_string_is_refused(server):
    token = await token_for(server, "ann", "ann-pass")
    with pytest.raises(InvalidStatus) as refused:
        await ws_connect(ws_url(server) + f"?token={token}")
    assert refused.value.response.status_code == 401


async def test_browsers_are_refused_unless_their_origin_is_configured(server):
    token = await token_for(server, "ann", "ann-pass")
    with pytest.raises(InvalidStatus) as refused:
        await ws_connect(
            ws_url(server),
            additional_headers={"Authorization": f"Bearer {token}"},
            origin="http://evil.example",
        )
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body) == {"error": "origin not allowed"}


async def test_bad_frames_get_error_frames_and_the_connection_keeps_working(server):
    token = await token_for(server, "ann", "ann-pass")
    ann = await connect(server, token, hello=False)
    await ann.send({"type": "mutate", "client_id": ann.client_id, "n": 1, "name": "x", "args": {}})
    assert (await ann.recv_until("error"))["code"] == "hello_required"
    await ann.hello()
    bad_frames = {
        "not json": "invalid_json",
        '{"type": "mutate", "type": "hello"}': "invalid_json",
        '{"type": "hello", "v": NaN}': "invalid_json",
        "[1, 2]": "invalid_frame",
        '{"type": "shout"}': "unknown_type",
        '{"type": "mutate", "n": "one"}': "invalid_frame",
        "[" * 10_000 + "]" * 10_000: "invalid_json",
        '{"type": "presence", "viewing": "\\ud800", "editing": false}': "invalid_json",
        '{"type":"mutate","client_id":"c","n":99999999999999999999999,"name":"x","args":{}}': (
            "invalid_frame"
        ),
    }
    for raw, code in bad_frames.items():
        await ann.send(raw)
        error = await ann.recv_until("error")
        assert error["code"] == code, (raw[:40], error)
    await ann.ws.send(b"\x00\x01")
    assert (await ann.recv_until("error"))["code"] == "binary_frame"
    other = {"type": "mutate", "client_id": "someone-else", "n": 5, "name": "x", "args": {}}
    await ann.send(other)
    wrong = await ann.recv_until("error")
    assert wrong["code"] == "wrong_client" and wrong["n"] == 5
    created = await ann.create()
    assert created["room"] == "101"
    await ann.close()


async def test_an_invalid_mutation_is_rejected_with_reasons_per_field(server):
    ann = await connect_as(server, "ann")
    n = await ann.mutate(
        "create_request",
        {
            "id": "not-a-uuid",
            "room": "",
            "category": "housekeeping",
            "description": "x",
            "priority": "low",
        },
    )
    reject = await ann.outcome(n)
    assert reject["type"] == "reject" and reject["code"] == "invalid"
    assert {"id", "room"} <= set(reject["fields"])
    n = await ann.mutate(
        "create_request",
        {"id": "not-a-uuid", "room": "1", "category": "spa", "description": "x", "priority": "low"},
    )
    reject = await ann.outcome(n)
    assert reject["code"] == "invalid" and "category" in reject["fields"]
    await ann.close()


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(server):
    ann = await connect_as(server, "ann")
    await ann.send(json.dumps({"type": "presence", "viewing": "x" * 70_000, "editing": False}))
    await ann.ws.wait_closed()
    assert ann.ws.close_code == 1009


async def test_health_and_readiness_answer_over_plain_http(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        missing = await http.get("/nope")
        assert missing.status_code == 404 and missing.json() == {"error": "not found"}


async def test_sign_in_gives_a_token_and_refuses_a_wrong_password(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        good = await http.get("/api/v1/token", auth=("meg", "meg-pass"))
        assert good.status_code == 200
        body = good.json()
        assert body["user"] == "meg" and body["role"] == "manager" and body["token"]
        assert body["expires_at"].endswith("Z")
        bad = await http.get("/api/v1/token", auth=("meg", "wrong"))
        assert bad.status_code == 401 and "error" in bad.json()
        assert bad.headers["content-type"] == "application/json"


async def test_a_configured_origin_may_connect(tmp_path):
    from conftest import make_config, start_server

    server = await start_server(make_config(tmp_path, allowed_origins=["https://desk.example"]))
    try:
        token = await token_for(server, "ann", "ann-pass")
        ws = await ws_connect(
            ws_url(server),
            additional_headers={"Authorization": f"Bearer {token}"},
            origin="https://desk.example",
        )
        await ws.close()
    finally:
        await server.close()


async def test_a_terminal_from_another_database_gets_a_snapshot(server):
    ann = await connect_as(server, "ann")
    row = await ann.create()
    token = await token_for(server, "bob", "bob-pass")
    bob = await connect(server, token, hello=False)
    await bob.hello(last_seq=10_000)
    snapshot = next(f for f in bob.received if f["type"] == "snapshot")
    assert [r["id"] for r in snapshot["requests"]] == [row["id"]]
    assert snapshot["seq"] == server.store.state.head_seq
    await ann.close()
    await bob.close()


async def test_the_server_speaks_tls_when_given_a_certificate(tmp_path):
    import shutil
    import ssl
    import subprocess

    from conftest import make_config, start_server

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = await start_server(make_config(tmp_path, tls_cert=cert, tls_key=key))
    try:
        assert server.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        async with httpx.AsyncClient(base_url=server.url, verify=context) as http:
            assert (await http.get("/healthz")).status_code == 200
            token = (await http.get("/api/v1/token", auth=("ann", "ann-pass"))).json()["token"]
        ws = await ws_connect(
            server.url.replace("https://", "wss://") + "/ws",
            additional_headers={"Authorization": f"Bearer {token}"},
            ssl=context,
        )
        await ws.close()
    finally:
        await server.close()


async def test_another_user_on_the_same_terminal_has_mutation_numbers_of_their_own(server):
    # One client_id per installation: a terminal shared by two shifts, or a client_id seen in
    # a change frame and reused on purpose, must not mix up exactly-once state.
    ann = await connect_as(server, "ann")
    row = await ann.create()
    first = await ann.outcome(await ann.mutate("add_note", {"id": row["id"], "text": "ann"}))
    bob = await connect(server, await token_for(server, "bob", "bob-pass"), hello=False)
    bob.client_id = ann.client_id
    welcome = await bob.hello()
    assert welcome["last_mutation"] == 0
    n = await bob.mutate("add_note", {"id": row["id"], "text": "bob"}, n=2)
    theirs = await bob.outcome(n)
    assert theirs["type"] == "ack" and theirs["seq"] != first["seq"]
    await bob.mutate("add_note", {"id": row["id"], "text": "bob again"}, n=1000)
    await bob.outcome(1000)
    mine = await ann.outcome(await ann.mutate("add_note", {"id": row["id"], "text": "ann 2"}))
    assert mine["type"] == "ack"
    again = await ann.outcome(await ann.mutate("add_note", {}, n=2))
    assert again == first
    texts = [note.text for note in server.store.state.requests[row["id"]].notes]
    assert texts == ["ann", "bob", "bob again", "ann 2"]
    await ann.close()
    await bob.close()


async def test_a_number_too_big_for_a_float_is_an_error_not_a_crash(server):
    ann = await connect_as(server, "ann")
    await ann.send('{"type": "presence", "viewing": null, "editing": false, "x": 1e400}')
    assert (await ann.recv_until("error"))["code"] == "invalid_json"
    await ann.create()
    await ann.close()
