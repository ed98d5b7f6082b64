"""Hostile and broken frames never take the desk down.

A corpus of known-bad inputs and hypothesis-generated frames go to a real server over one
connection. After each one a *probe* (a valid ``add_note``) must be acknowledged on the same
connection: the server answered, did not crash, and kept serving. Every frame that the
protocol's own decoder refuses must have been answered with an ``error`` frame carrying a code;
frames over 64 KiB close the connection with 1009. Afterwards ``PRAGMA integrity_check`` is ok
and another user is served normally.

The server runs on its own thread and event loop, so hypothesis (whose tests are synchronous)
can drive it example after example through real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ServerThread
from helpers import WsClient, connect, connect_as, token_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from protocol.frames import MAX_CLIENT_FRAME
from protocol.wire import FrameError, decode_client_frame

FUZZ_CLIENT = "5f0c7a52-7d1e-4c55-9a41-0d7c1b0f2a11"
"""The client_id of the generated-frames connections (fixed, so strategies can use it)."""
FIGURES: Counter[str] = Counter()
"""Frames tried and how they were answered, printed at the end of the module."""


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Iterator[ServerThread]:
    box = ServerThread(tmp_path_factory.mktemp("fuzz"))
    try:
        yield box
    finally:
        box.stop()
        print(f"fuzz figures: {dict(FIGURES)}")


def integrity(box: ServerThread) -> str:
    db = sqlite3.connect(f"file:{box.server.config.db_path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def crashes(records: list[logging.LogRecord]) -> list[str]:
    """Log records that mean a handler blew up (an exception escaped somewhere)."""
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR or r.exc_info]


class Prober:
    """One connection that sends a frame, then proves it still works with an acked probe."""

    def __init__(self, client: WsClient, request_id: str) -> None:
        self.client = client
        self.request_id = request_id
        self.max_n = 1  # the create

    def saw_n(self, frame: Any) -> None:
        """Remember an ``n`` the server may have taken as this client's, so probes stay above it."""
        if (
            isinstance(frame, dict)
            and frame.get("client_id") == self.client.client_id
            and type(frame.get("n")) is int
            and 0 < frame["n"] < 2**63 - 1000
        ):
            self.max_n = max(self.max_n, frame["n"])

    async def answers_to(self, raw: str | bytes) -> list[dict[str, Any]]:
        """Send ``raw``, then a probe; return the frames that came before the probe's ack."""
        before = len(self.client.received)
        await self.client.ws.send(raw)
        self.max_n += 1
        probe = self.max_n
        await self.client.mutate(
            "add_note", {"id": self.request_id, "text": f"probe {probe}"}, n=probe
        )
        answer = await self.client.outcome(probe, timeout=10)
        assert answer["type"] == "ack", answer
        got = self.client.received[before:-1]
        FIGURES["frames"] += 1
        for frame in got:
            if frame["type"] == "error":
                FIGURES[f"error:{frame['code']}"] += 1
        return got


async def prober_for(box: ServerThread, client_id: str | None = None) -> Prober:
    client = await connect_as(box, "ann", client_id=client_id)
    welcome = next(f for f in client.received if f["type"] == "welcome")
    client.n = welcome["last_mutation"]  # a client_id used before goes on from its last n
    row = await client.create()
    prober = Prober(client, row["id"])
    prober.max_n = client.n
    return prober


def expect_error(raw: str | bytes, answers: list[dict[str, Any]]) -> None:
    errors = [a for a in answers if a["type"] in ("error", "reject")]
    assert errors, f"no error frame for {raw[:80]!r}: {answers}"
    for error in errors:
        assert error["code"] and isinstance(error.get("message"), str)
        assert error["code"] != "internal", f"{raw[:80]!r} hit an internal error: {error}"


def corpus(client_id: str) -> list[str | bytes]:
    """Known-bad inputs: each must get an ``error`` (or ``reject``) and leave the line open."""
    mutate = {"type": "mutate", "client_id": client_id, "name": "add_note"}
    deep_list = "[" * 10_000 + "]" * 10_000
    deep_obj = '{"a":' * 10_000 + "1" + "}" * 10_000
    return [
        "not json",
        "",
        "   ",
        "{",
        '{"type": "hello"',
        "null",
        "1",
        '"a string"',
        "[]",
        "{}",
        '{"type": null}',
        '{"type": 7}',
        '{"type": "launch_missiles"}',
        '{"type": "HELLO"}',
        "NaN",
        "Infinity",
        '{"type": "mutate", "n": NaN}',
        '{"type": "presence", "viewing": -Infinity, "editing": false}',
        '{"type": "hello", "client_id": "\\ud800"}',
        '{"type": "presence", "viewing": "\\udfff\\ud800", "editing": true}',
        deep_list,
        deep_obj,
        '{"type": "mutate", "args": ' + "[" * 5_000 + "]" * 5_000 + "}",
        '{"type": "mutate", "n": 1180591620717411303424}',  # 2**70
        '{"type": "mutate", "n": ' + "9" * 5_000 + "}",  # past Python's int digit limit
        '{"type": "hello", "type": "mutate"}',
        '{"type": "presence", "viewing": null, "editing": false, "editing": true}',
        json.dumps({**mutate, "n": 2**70, "args": {}}),
        json.dumps({**mutate, "n": 0, "args": {}}),
        json.dumps({**mutate, "n": -1, "args": {}}),
        json.dumps({**mutate, "n": "5", "args": {}}),
        json.dumps({**mutate, "n": 5.5, "args": {}}),
        json.dumps({**mutate, "n": True, "args": {}}),
        json.dumps({**mutate, "n": 2**62 + 5000, "args": "not an object"}),
        json.dumps({**mutate, "client_id": "someone-else", "n": 2**62 + 6000, "args": {}}),
        json.dumps({**mutate, "n": 2**62 + 7000, "name": "drop_table", "args": {}}),
        json.dumps({**mutate, "n": 2**62 + 8000, "args": {"id": "x", "text": 5}}),
        json.dumps({**mutate, "n": 2**62 + 9000, "args": {"id": str(uuid.uuid4()), "text": "\0"}}),
        json.dumps({"type": "hello", "v": 1, "client_id": client_id}),  # second hello
        json.dumps({"type": "hello", "v": 2, "client_id": "x" * 10_000}),
        json.dumps({"type": "subscribe", "channels": ["room:" + "1" * 100]}),
        json.dumps({"type": "subscribe", "channels": ["all"] * 1_000}),
        json.dumps({"type": "subscribe", "channels": "all"}),
        json.dumps({"type": "presence", "viewing": 5, "editing": "yes"}),
        json.dumps({"type": "presence"}),
        json.dumps({"type": "ack", "n": 1, "seq": 1}),
        json.dumps({"type": "error", "code": "x", "message": "spoofed"}),
        "\ufeff{}",
        b"\x00\x01\x02binary",
        b'{"type": "hello"}',
        b"\xff\xfe\xfd",
    ]


async def test_every_known_bad_frame_gets_an_error_and_the_connection_keeps_working(
    fuzz_server, caplog
):
    caplog.set_level(logging.WARNING)
    prober = await prober_for(fuzz_server)
    tried = 0
    for raw in corpus(prober.client.client_id):
        with contextlib.suppress(ValueError, TypeError, RecursionError):
            prober.saw_n(json.loads(raw))
        answers = await prober.answers_to(raw)
        expect_error(raw, answers)
        tried += 1
    await prober.client.close()
    FIGURES["corpus"] += tried
    assert not crashes(caplog.records), crashes(caplog.records)
    assert integrity(fuzz_server) == "ok"


async def test_a_mutation_before_hello_is_refused_with_hello_required(fuzz_server):
    token = await token_for(fuzz_server, "bob", "bob-pass")
    client = await connect(fuzz_server, token, hello=False)
    await client.send({"type": "mutate", "client_id": "c", "n": 1, "name": "x", "args": {}})
    error = await client.recv_until("error")
    assert error["code"] == "hello_required"
    await client.hello()
    await client.create()
    await client.close()


async def test_a_frame_over_64_kib_closes_with_1009_and_the_server_serves_on(fuzz_server):
    prober = await prober_for(fuzz_server)
    note = {"id": prober.request_id, "text": "x" * (MAX_CLIENT_FRAME + 10)}
    await prober.client.mutate("add_note", note, n=99)
    with pytest.raises(ConnectionClosed):
        await prober.client.recv_until("ack", timeout=5)
    assert prober.client.ws.close_code == 1009
    again = await prober_for(fuzz_server)  # the server itself is fine
    await again.client.close()
    FIGURES["oversize"] += 1


async def test_a_text_frame_that_is_not_utf8_closes_only_that_connection(fuzz_server):
    prober = await prober_for(fuzz_server)
    await prober.client.ws.send(b'{"type":"\xff"}', text=True)  # invalid UTF-8 in a text frame
    with pytest.raises(ConnectionClosed):
        await prober.client.recv_until("ack", timeout=5)
    assert prober.client.ws.close_code == 1007  # RFC 6455: invalid frame payload data
    again = await prober_for(fuzz_server)
    await again.client.close()
    FIGURES["bad_utf8"] += 1


async def test_a_number_too_big_for_a_float_gets_an_error_frame_not_a_crash(fuzz_server):
    """Found by this file: ``1e400`` parsed to ``inf`` and the re-encode check in
    ``protocol.wire.loads_strict`` raised ``ValueError``, crashing the handler (close 1011).
    The session now answers any undecodable input with ``invalid_json`` (commit cf27640)."""
    prober = await prober_for(fuzz_server)
    try:
        for raw in ('{"type": "mutate", "n": 1e400}', '{"type": "x", "v": -1e999}'):
            expect_error(raw, await prober.answers_to(raw))
    finally:
        await prober.client.close()


# -- generated frames ------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def frames(draw: Any, client_id: str) -> str | bytes:
    """A frame: some well-formed envelopes with odd contents, some plain garbage."""
    kind = draw(st.sampled_from(["envelope", "envelope", "envelope", "json", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values))
    frame: dict[str, Any] = {
        "type": draw(st.sampled_from(["hello", "mutate", "subscribe", "presence", "x", ""]))
    }
    for key in draw(
        st.sets(
            st.sampled_from(
                ["client_id", "n", "name", "args", "base_version", "channels", "viewing", "v"]
            )
        )
    ):
        if key == "client_id":
            frame[key] = draw(st.sampled_from([client_id, "other"]) | st.text(max_size=70))
        elif key == "name":
            frame[key] = draw(
                st.sampled_from(
                    [
                        "create_request",
                        "update_request",
                        "set_status",
                        "assign",
                        "add_note",
                        "bulk_set_status",
                        "nope",
                    ]
                )
            )
        elif key == "args":
            frame[key] = draw(
                st.dictionaries(
                    st.sampled_from(["id", "text", "room", "status", "changes", "ids", "x"]),
                    json_values,
                    max_size=5,
                )
                | json_values
            )
        elif key == "n":
            frame[key] = draw(st.integers(min_value=-3, max_value=2**40) | json_scalars)
        else:
            frame[key] = draw(json_values)
    return json.dumps(frame)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames(FUZZ_CLIENT), min_size=1, max_size=12))
def test_generated_frames_never_crash_the_server_nor_drop_the_connection(
    fuzz_server, caplog, batch
):
    caplog.set_level(logging.WARNING)

    async def run() -> None:
        prober = await prober_for(fuzz_server, FUZZ_CLIENT)
        try:
            for raw in batch:
                try:
                    parsed = json.loads(raw)
                except (ValueError, TypeError):
                    parsed = None
                prober.saw_n(parsed)
                answers = await prober.answers_to(raw)
                FIGURES["generated"] += 1
                try:
                    decode_client_frame(raw)
                except FrameError:
                    expect_error(raw, answers)
                assert not any(a.get("code") == "internal" for a in answers), answers
        finally:
            await prober.client.close()

    asyncio.run(run())
    assert not crashes(caplog.records), crashes(caplog.records)
    assert integrity(fuzz_server) == "ok"


async def test_a_message_over_64_kib_in_small_fragments_closes_with_1009_too(fuzz_server):
    """The limit is on the whole message, not on each fragment of it."""
    prober = await prober_for(fuzz_server)
    head = '{"type":"presence","viewing":"'
    parts = [head, *("x" * 1024 for _ in range(70)), '","editing":false}']
    await prober.client.ws.send(iter(parts))  # one text message, sent as 72 fragments
    with pytest.raises(ConnectionClosed):
        await prober.client.recv_until("ack", timeout=5)
    assert prober.client.ws.close_code == 1009
    again = await prober_for(fuzz_server)
    await again.client.close()
    FIGURES["oversize_fragmented"] += 1
