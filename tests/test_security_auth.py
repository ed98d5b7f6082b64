"""The auth matrix: every endpoint and mutation, by role and token state, and what it gets.

One real server; tokens in every state are made through ``backend.accounts`` (expired: issued
with a negative lifetime; revoked: ``revoke_tokens``; disabled user: ``disable_user``). Each cell
is *observed* over real HTTP or WebSocket and compared with the expected table below, which
is the access policy of DESIGN.md. With ``FRONTDESK_WRITE_AUTH_MATRIX=1`` the observed table is
written to ``docs/auth-matrix.md`` (docs/RELIABILITY.md links to it), so the docs are generated
from the test, never typed by hand.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
from conftest import make_config, start_server
from helpers import WsClient, connect, token_for
from websockets.exceptions import InvalidStatus

from backend.accounts import Accounts

STATES = ("none", "malformed", "unknown", "expired", "revoked", "disabled user")
ROLES = ("staff", "manager", "admin")
USER_OF = {"staff": "ann", "manager": "meg", "admin": "adam"}
PASSWORD = {"ann": "ann-pass", "meg": "meg-pass", "adam": "adam-pass", "bob": "bob-pass"}
MATRIX_FILE = Path(__file__).resolve().parent.parent / "docs" / "auth-matrix.md"

REFUSED = {state: "401" for state in STATES}
EXPECTED_HTTP: dict[str, dict[str, str]] = {
    "GET /healthz": {**{s: "200" for s in STATES}, **{r: "200" for r in ROLES}},
    "GET /readyz": {**{s: "200" for s in STATES}, **{r: "200" for r in ROLES}},
    "GET /metrics": {**{s: "200" for s in STATES}, **{r: "200" for r in ROLES}},
    "GET /api/v1/requests": {**REFUSED, **{r: "200" for r in ROLES}},
    "GET /api/v1/requests/<id>/history": {**REFUSED, **{r: "200" for r in ROLES}},
    "GET /api/v1/stats": {**REFUSED, "staff": "403", "manager": "200", "admin": "200"},
    "GET /api/v1/report?shift=last": {**REFUSED, "staff": "403", "manager": "200", "admin": "200"},
    "WebSocket /ws upgrade": {**REFUSED, **{r: "101" for r in ROLES}},
}
"""Endpoint → column → HTTP status. Health, readiness and metrics are open (loopback by
default; put them behind the proxy's own rules when exposing the port)."""

EVERYONE = {r: "ack" for r in ROLES}
MANAGERS = {"staff": "reject forbidden", "manager": "ack", "admin": "ack"}
EXPECTED_MUTATIONS: dict[str, dict[str, str]] = {
    "create_request": EVERYONE,
    "update_request (description)": EVERYONE,
    "assign": EVERYONE,
    "add_note": EVERYONE,
    "set_status acknowledged": EVERYONE,
    "set_status in_progress (start)": EVERYONE,
    "set_status completed": EVERYONE,
    "set_status cancelled (own request)": EVERYONE,
    "set_status cancelled (someone else's)": MANAGERS,
    "set_status pending (reopen)": MANAGERS,
    "bulk_set_status acknowledged": MANAGERS,
    "acknowledge_alert (request assigned to me)": EVERYONE,
    "acknowledge_alert (someone else's request)": MANAGERS,
    "raise_sla_alert (the server's own)": {r: "reject forbidden" for r in ROLES},
    "ring_alerts (the server's own)": {r: "reject forbidden" for r in ROLES},
}
"""Mutation → role → outcome, with a valid token (any other token never gets a WebSocket)."""

EXPECTED_SESSION: dict[str, str] = {
    "token revoked while connected": "closed 4401",
    "user disabled while connected": "closed 4401",
    "token expires while connected": "closed 4401",
    "sign-in with the right password": "200",
    "sign-in with a wrong password": "401",
    "sign-in of a disabled user": "401",
    "sign-in without credentials": "401",
    "token in the query string (?token=)": "401",
    "valid token from a browser page (Origin header)": "403",
}


async def tokens_in_every_state(server) -> dict[str, str | None]:
    """Column → the Authorization header value to send (None: no header)."""
    accounts: Accounts = server.accounts
    await accounts.add_user("dana", "staff", "dana-pass")
    expired = (await Accounts(server.store, ttl_hours=-1).issue_token("ann"))["token"]
    revoked = await token_for(server, "bob", PASSWORD["bob"])
    await accounts.revoke_tokens("bob")
    disabled = await token_for(server, "dana", "dana-pass")
    await accounts.disable_user("dana")
    headers: dict[str, str | None] = {
        "none": None,
        "malformed": "Bearer !!not a token!!",
        "unknown": f"Bearer {uuid.uuid4().hex}{uuid.uuid4().hex}",
        "expired": f"Bearer {expired}",
        "revoked": f"Bearer {revoked}",
        "disabled user": f"Bearer {disabled}",
    }
    for role, user in USER_OF.items():
        headers[role] = f"Bearer {await token_for(server, user, PASSWORD[user])}"
    return headers


async def observe_http(server, headers: dict[str, str | None], request_id: str):
    observed: dict[str, dict[str, str]] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for endpoint in EXPECTED_HTTP:
            row: dict[str, str] = {}
            for column, value in headers.items():
                hdrs = {"Authorization": value} if value else {}
                if endpoint.startswith("WebSocket"):
                    row[column] = await ws_status(server, hdrs)
                    continue
                path = endpoint.split(" ", 1)[1].replace("<id>", request_id)
                row[column] = str((await http.get(path, headers=hdrs)).status_code)
            observed[endpoint] = row
    return observed


async def ws_status(server, headers: dict[str, str]) -> str:
    from websockets.asyncio.client import connect as ws_connect

    url = server.url.replace("http://", "ws://") + "/ws"
    try:
        ws = await ws_connect(url, additional_headers=headers, compression=None)
    except InvalidStatus as exc:
        return str(exc.response.status_code)
    await ws.close()
    return "101"


async def new_request(client: WsClient, **fields: Any) -> dict[str, Any]:
    return await client.create(room="1204", **fields)


async def outcome(client: WsClient, name: str, args: dict[str, Any], base: int | None) -> str:
    n = await client.mutate(name, args, base_version=base)
    answer = await client.outcome(n)
    return "ack" if answer["type"] == "ack" else f"reject {answer['code']}"


async def observe_mutations(server, headers: dict[str, str | None]) -> dict[str, dict[str, str]]:
    """Run each mutation as each role on a request prepared for it (by ann, moved by meg)."""
    clients = {
        role: await connect(server, headers[role].split(" ", 1)[1])  # type: ignore[union-attr]
        for role in ROLES
    }
    ann, meg = clients["staff"], clients["manager"]

    async def prepared(*path: str, by: WsClient | None = None) -> dict[str, Any]:
        row = await new_request(by or ann)
        for status in path:
            n = await meg.mutate("set_status", {"id": row["id"], "status": status})
            answer = await meg.outcome(n)
            assert answer["type"] == "ack", answer
            row = answer["request"]
        return row

    observed: dict[str, dict[str, str]] = {m: {} for m in EXPECTED_MUTATIONS}
    try:
        for role, me in clients.items():
            rid = str(uuid.uuid4())
            observed["create_request"][role] = await outcome(
                me,
                "create_request",
                {
                    "id": rid,
                    "room": "817",
                    "category": "maintenance",
                    "description": "leak",
                    "priority": "high",
                },
                None,
            )
            row = await prepared()
            observed["update_request (description)"][role] = await outcome(
                me,
                "update_request",
                {"id": row["id"], "changes": {"description": "two towels"}},
                row["version"],
            )
            row = await prepared()
            observed["assign"][role] = await outcome(
                me, "assign", {"id": row["id"], "assignee": "bob"}, row["version"]
            )
            row = await prepared()
            observed["add_note"][role] = await outcome(
                me, "add_note", {"id": row["id"], "text": "called"}, row["version"]
            )
            other = meg if role == "staff" else ann  # someone who is not ``me``
            for label, path, target in (
                ("set_status acknowledged", (), "acknowledged"),
                ("set_status in_progress (start)", (), "in_progress"),
                ("set_status completed", ("in_progress",), "completed"),
                ("set_status cancelled (someone else's)", (), "cancelled"),
                ("set_status pending (reopen)", ("in_progress", "completed"), "pending"),
            ):
                row = await prepared(*path, by=other if "else's" in label else None)
                observed[label][role] = await outcome(
                    me, "set_status", {"id": row["id"], "status": target}, row["version"]
                )
            own = await new_request(me)
            observed["set_status cancelled (own request)"][role] = await outcome(
                me, "set_status", {"id": own["id"], "status": "cancelled"}, own["version"]
            )
            for label, assignee in (
                ("acknowledge_alert (request assigned to me)", USER_OF[role]),
                ("acknowledge_alert (someone else's request)", "bob"),
            ):
                row = await new_request(ann, priority="urgent", assignee=assignee)
                observed[label][role] = await outcome(
                    me, "acknowledge_alert", {"id": row["id"], "index": 0}, row["version"]
                )
            row = await new_request(ann, priority="urgent")
            observed["raise_sla_alert (the server's own)"][role] = await outcome(
                me,
                "raise_sla_alert",
                {"id": row["id"], "due_at": row["due_at"], "escalate": True},
                None,
            )
            observed["ring_alerts (the server's own)"][role] = await outcome(
                me, "ring_alerts", {"id": row["id"], "rung_before": row["due_at"]}, None
            )
            rows = [await prepared(), await prepared()]
            observed["bulk_set_status acknowledged"][role] = await outcome(
                me,
                "bulk_set_status",
                {"ids": [r["id"] for r in rows], "status": "acknowledged"},
                None,
            )
    finally:
        for client in clients.values():
            await client.close()
    return observed


async def observe_sessions(tmp_path) -> dict[str, str]:
    """Tokens that stop being valid while connected, and sign-in itself."""
    server = await start_server(make_config(tmp_path / "sessions", token_check_seconds=0.05))
    observed: dict[str, str] = {}
    try:
        accounts: Accounts = server.accounts
        await accounts.add_user("eve", "staff", "eve-pass")
        await accounts.add_user("fay", "staff", "fay-pass")

        async def closed_after(token: str, action) -> str:
            client = await connect(server, token)
            await action()
            try:
                await asyncio.wait_for(client.ws.wait_closed(), 5)
            except TimeoutError:
                await client.close()
                return "still open after 5 s"
            return f"closed {client.ws.close_code}"

        token = await token_for(server, "eve", "eve-pass")
        observed["token revoked while connected"] = await closed_after(
            token, lambda: accounts.revoke_tokens("eve")
        )
        token = await token_for(server, "fay", "fay-pass")
        observed["user disabled while connected"] = await closed_after(
            token, lambda: accounts.disable_user("fay")
        )
        short = (await Accounts(server.store, ttl_hours=0.3 / 3600).issue_token("ann"))["token"]

        async def nothing() -> None:
            return None

        observed["token expires while connected"] = await closed_after(short, nothing)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            for label, auth in (
                ("sign-in with the right password", ("meg", "meg-pass")),
                ("sign-in with a wrong password", ("meg", "nope")),
                ("sign-in of a disabled user", ("fay", "fay-pass")),
                ("sign-in without credentials", None),
            ):
                answer = await http.get("/api/v1/token", auth=auth)
                observed[label] = str(answer.status_code)
        token = await token_for(server, "meg", "meg-pass")
        try:
            from websockets.asyncio.client import connect as ws_connect

            url = server.url.replace("http://", "ws://") + f"/ws?token={token}"
            ws = await ws_connect(url, compression=None)
            await ws.close()
            observed["token in the query string (?token=)"] = "101"
        except InvalidStatus as exc:
            observed["token in the query string (?token=)"] = str(exc.response.status_code)
        headers = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
        observed["valid token from a browser page (Origin header)"] = await ws_status(
            server, headers
        )
    finally:
        await server.close()
    return observed


def markdown(
    http: dict[str, dict[str, str]],
    mutations: dict[str, dict[str, str]],
    sessions: dict[str, str],
) -> str:
    columns = [*STATES, *ROLES]
    lines = [
        "# Auth matrix",
        "",
        "Generated by `tests/test_security_auth.py` (`FRONTDESK_WRITE_AUTH_MATRIX=1 .venv/bin/"
        "pytest tests/test_security_auth.py`): every cell was observed against a real server.",
        "",
        "## Endpoints × token state and role (HTTP status)",
        "",
        "| endpoint | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for endpoint, row in http.items():
        lines.append(f"| `{endpoint}` | " + " | ".join(row[c] for c in columns) + " |")
    lines += [
        "",
        "## Mutations × role (valid token; any other token state gets 401 before the upgrade)",
        "",
        "| mutation | " + " | ".join(ROLES) + " |",
        "|---" * (len(ROLES) + 1) + "|",
    ]
    for name, row in mutations.items():
        lines.append(f"| `{name}` | " + " | ".join(row[r] for r in ROLES) + " |")
    lines += ["", "## Sessions and sign-in", "", "| situation | outcome |", "|---|---|"]
    for label, value in sessions.items():
        lines.append(f"| {label} | {value} |")
    return "\n".join(lines) + "\n"


async def test_every_endpoint_and_mutation_answers_each_role_and_token_state_as_designed(
    server, tmp_path
):
    headers = await tokens_in_every_state(server)
    ann = await connect(server, headers["staff"].split(" ", 1)[1])  # type: ignore[union-attr]
    row = await ann.create()
    await ann.close()
    http = await observe_http(server, headers, row["id"])
    mutations = await observe_mutations(server, headers)
    sessions = await observe_sessions(tmp_path)
    if os.environ.get("FRONTDESK_WRITE_AUTH_MATRIX"):
        MATRIX_FILE.write_text(markdown(http, mutations, sessions), encoding="utf-8")
    cells = sum(len(r) for r in http.values()) + sum(len(r) for r in mutations.values())
    cells += len(sessions)
    print(f"auth matrix: {cells} cells observed")
    wrong = [
        f"{endpoint} [{column}]: expected {want}, got {http[endpoint][column]}"
        for endpoint, row in EXPECTED_HTTP.items()
        for column, want in row.items()
        if http[endpoint][column] != want
    ]
    wrong += [
        f"{name} [{role}]: expected {want}, got {mutations[name][role]}"
        for name, row in EXPECTED_MUTATIONS.items()
        for role, want in row.items()
        if mutations[name][role] != want
    ]
    wrong += [
        f"{label}: expected {want}, got {sessions[label]}"
        for label, want in EXPECTED_SESSION.items()
        if sessions[label] != want
    ]
    assert not wrong, "\n".join(wrong)


async def test_another_user_cannot_take_over_a_terminals_client_id(server):
    """Every ``change`` frame shows ``by.client_id``; saying ``hello`` with another user's
    client_id and spending its mutation numbers must not swallow that terminal's next edits.
    Found by this test; fixed in backend (commit 7c9cca9: exactly-once state keyed by user and
    client_id)."""
    ann = await connect(server, await token_for(server, "ann", "ann-pass"))
    row = await ann.create()
    bob_token = await token_for(server, "bob", "bob-pass")
    watcher = await connect(server, bob_token)  # bob, as himself, sees ann's changes go by
    await ann.mutate("add_note", {"id": row["id"], "text": "hello"})
    stolen = (await watcher.recv_until("change"))["by"]["client_id"]
    await watcher.close()
    assert stolen == ann.client_id
    bob = await connect(server, bob_token, hello=False)
    try:
        await bob.send({"type": "hello", "v": 1, "client_id": stolen, "last_seq": 0})
        answer = await bob.recv()
        if answer["type"] == "welcome":
            await bob.recv_until("synced")
            bob.client_id = stolen
            await bob.mutate("add_note", {"id": row["id"], "text": "bob was here"}, n=1000)
            await bob.recv_until("ack", where=lambda f: f.get("n") == 1000)
        n = await ann.mutate("add_note", {"id": row["id"], "text": "ann's real note"})
        answer = await ann.outcome(n)
        assert answer["type"] == "ack", f"ann's edit was not applied: {answer}"
    finally:
        await ann.close()
        await bob.close()
