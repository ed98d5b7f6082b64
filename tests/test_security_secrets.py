"""Tokens and passwords never land in logs, and failed sign-ins are slowed down.

Everything the server logs (frontdesk's loggers at every level, libraries at INFO) is captured while
a person signs in, connects, uses a token the wrong way (in the query string, as Basic, with a
typo), types a wrong password and reconnects. No token and no password may appear in any line.
"""

from __future__ import annotations

import logging
import time

import httpx
from helpers import connect, token_for, ws_url
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

PASSWORDS = ("ann-pass", "meg-pass", "a-wrong-guess-7f3k", "tr0ub4dor&3")


async def test_no_token_or_password_appears_in_any_log_line(server, caplog):
    # frontdesk's own loggers at every level; libraries at INFO (websockets' DEBUG output dumps
    # raw HTTP headers by design: never run a production server with it).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="frontdesk")
    token = await token_for(server, "ann", "ann-pass")
    other = await token_for(server, "meg", "meg-pass")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        await http.get("/api/v1/token", auth=("ann", "a-wrong-guess-7f3k"))
        await http.get("/api/v1/token", auth=("nobody", "tr0ub4dor&3"))
        await http.get("/api/v1/requests", headers={"Authorization": f"Bearer {token}x"})
        await http.get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"})
        await http.get(f"/api/v1/requests?token={other}")
        await http.get("/api/v1/requests", headers={"Authorization": f"Basic {token}"})
        await http.get(f"/nowhere/{token}")
    for url in (ws_url(server) + f"?token={other}", ws_url(server) + f"/{token}"):
        try:
            ws = await ws_connect(url, compression=None)
            await ws.close()
        except InvalidStatus:
            pass
    client = await connect(server, token)
    await client.create()
    await client.send({"type": "hello", "v": 1, "client_id": token, "last_seq": 0})
    await client.recv_until("error")
    await client.close()
    client_side = ("httpx", "httpcore", "websockets.client")  # this test's own clients
    server_records = [r for r in caplog.records if not r.name.startswith(client_side)]
    handler = logging.Formatter()
    lines = [handler.format(r) for r in server_records]  # message, arguments and tracebacks
    leaks = [
        (secret[:6] + "…", line[:120])
        for line in lines
        for secret in (token, other, *PASSWORDS)
        if secret in line
    ]
    assert not leaks, leaks
    assert len(server_records) > 5, "the server should have logged these events"


async def test_repeated_wrong_passwords_are_answered_ever_more_slowly(server):
    """Guessing passwords gets slower per user (the throttle doubles, capped at 8 s)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        took = []
        for _ in range(5):
            started = time.perf_counter()
            answer = await http.get("/api/v1/token", auth=("meg", "guess"))
            took.append(time.perf_counter() - started)
            assert answer.status_code == 401
        started = time.perf_counter()
        right = await http.get("/api/v1/token", auth=("meg", "meg-pass"))
        delayed = time.perf_counter() - started
    base = server.config.login_delay_base
    print(f"sign-in throttle: wrong passwords took {[round(t, 2) for t in took]} s")
    assert took[-1] >= base * 2**3, took  # the 5th failure waited at least 8 × the base delay
    assert took[-1] > took[0]
    assert right.status_code == 200 and delayed >= base * 2**4 * 0.9, "no free retry"


async def test_a_client_cannot_forge_log_lines_or_smuggle_escape_sequences(server, caplog):
    caplog.set_level(logging.INFO)
    forged = "x\nevent=sign-in outcome=ok user=adam\x1b]52;c;aGk=\x07\x1b[2J"  # 52 chars
    token = await token_for(server, "ann", "ann-pass")
    client = await connect(server, token, client_id=forged)
    await client.create()
    await client.close()
    lines = [
        logging.Formatter().format(r)
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore", "websockets.client"))
    ]
    assert not [line for line in lines if "\n" in line or "\x1b" in line or "\x07" in line], [
        line for line in lines if "\n" in line or "\x1b" in line
    ]
