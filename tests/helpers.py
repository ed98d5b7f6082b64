"""Test helpers: sign in, wait on a condition, and a tiny raw WebSocket client for the server."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from protocol.models import Request


async def token_for(server, user: str, password: str) -> str:
    """A bearer token from ``GET /api/v1/token`` (asserts the sign-in works)."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.get("/api/v1/token", auth=(user, password))
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, message: str = ""
) -> None:
    """Wait until ``predicate()`` is true (polling the event loop), or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://", 1) + "/ws"


class WsClient:
    """A raw protocol client: send frames, read until a frame type, remember what arrived."""

    def __init__(self, ws: ClientConnection, client_id: str) -> None:
        self.ws = ws
        self.client_id = client_id
        self.received: list[dict[str, Any]] = []
        self.n = 0

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        self.received.append(frame)
        return frame

    async def recv_until(
        self, type_: str, timeout: float = 5.0, where: Callable[[dict], bool] | None = None
    ) -> dict[str, Any]:
        """The next frame of ``type_`` (matching ``where``); frames before it are kept too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if frame["type"] == type_ and (where is None or where(frame)):
                return frame

    async def hello(self, last_seq: int = 0) -> dict[str, Any]:
        """Send ``hello`` and read up to ``synced``; returns the ``welcome``."""
        await self.send(
            {"type": "hello", "v": 1, "client_id": self.client_id, "last_seq": last_seq}
        )
        welcome = await self.recv_until("welcome")
        await self.recv_until("synced", timeout=30)
        return welcome

    async def mutate(
        self, name: str, args: dict[str, Any], base_version: int | None = None, n: int | None = None
    ) -> int:
        """Send a mutation (next ``n`` unless given); returns its ``n``."""
        if n is None:
            self.n += 1
            n = self.n
        frame: dict[str, Any] = {
            "type": "mutate",
            "client_id": self.client_id,
            "n": n,
            "name": name,
            "args": args,
        }
        if base_version is not None:
            frame["base_version"] = base_version
        await self.send(frame)
        return n

    async def outcome(self, n: int, timeout: float = 5.0) -> dict[str, Any]:
        """The ``ack`` or ``reject`` answering mutation ``n``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if frame["type"] in ("ack", "reject") and frame.get("n") == n:
                return frame

    async def create(self, room: str = "101", **fields: Any) -> dict[str, Any]:
        """Create a request and return the ``ack``'s row (asserts it was acked)."""
        args = {
            "id": str(uuid.uuid4()),
            "room": room,
            "category": "housekeeping",
            "description": "Two extra towels",
            "priority": "normal",
            **fields,
        }
        n = await self.mutate("create_request", args)
        answer = await self.outcome(n)
        assert answer["type"] == "ack", answer
        return answer["request"]

    async def close(self) -> None:
        await self.ws.close()


async def connect(
    server, token: str | None, client_id: str | None = None, hello: bool = True, **kwargs: Any
) -> WsClient:
    """Open ``/ws`` with a bearer token; by default also says ``hello`` and waits for ``synced``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Unbounded receive queue: a test that reads only some frames must still close promptly.
    kwargs.setdefault("max_queue", None)
    ws = await ws_connect(ws_url(server), additional_headers=headers, compression=None, **kwargs)
    client = WsClient(ws, client_id or str(uuid.uuid4()))
    if hello:
        await client.hello()
    return client


async def connect_as(server, user: str, **kwargs: Any) -> WsClient:
    """Sign in as one of the fixture users and connect."""
    from conftest import USERS

    return await connect(server, await token_for(server, user, USERS[user][1]), **kwargs)


def row(frame: dict[str, Any]) -> Request:
    """The request of an ``ack`` or ``change`` frame, validated."""
    return Request.model_validate(frame["request"])


async def spawn_serve(
    data_dir: Path, log: Path, *, port: int = 0, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    """A real ``python -m frontdesk serve`` on 127.0.0.1; returns the process and its URL once
    it listens (its one stdout line). Logs go to ``log``; ``env`` adds to the environment."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "frontdesk", "serve", "--host", "127.0.0.1"),
        *("--port", str(port), "--data-dir", str(data_dir)),
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert "listening on " in line, log.read_text()[-2000:]
    return proc, line.rsplit("listening on ", 1)[1].strip()
