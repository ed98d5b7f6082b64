"""Signing in over HTTP and keeping the token between starts.

``sign_in`` turns every failure into a ``SignInError`` with one line a person can act on. The
session file holds a bearer token, so it is created with mode 0600 and replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from offline.errors import SignInError
from protocol import Role

if TYPE_CHECKING:
    import httpx

SESSION_FILE = "session.json"
SIGN_IN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Session:
    """A signed-in user on one server."""

    server_url: str
    token: str
    user: str
    role: Role
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def normalize_server_url(server_url: str) -> str:
    """``http(s)://host:port`` without a trailing slash; SignInError when it is not a URL."""
    url = server_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SignInError(f"server address must look like http://HOST:PORT, not {server_url!r}")
    return url


def ws_url(server_url: str) -> str:
    """The WebSocket endpoint of a server given by its HTTP address."""
    url = normalize_server_url(server_url)
    scheme, rest = url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


async def sign_in(server_url: str, user: str, password: str) -> Session:
    """Exchange a user name and password for a token (``GET /api/v1/token``, HTTP Basic)."""
    import httpx  # here: opening the TUI with a saved session never pays its ~0.2 s import

    url = normalize_server_url(server_url)
    try:
        async with httpx.AsyncClient(timeout=SIGN_IN_TIMEOUT, trust_env=False) as client:
            response = await client.get(f"{url}/api/v1/token", auth=(user, password))
    except httpx.TimeoutException:
        raise SignInError(f"cannot reach server at {url}: no answer in time") from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise SignInError(f"cannot reach server at {url}: {reason}") from None
    if response.status_code == 401:
        raise SignInError("wrong user name or password")
    if response.status_code == 429:
        raise SignInError("too many failed sign-ins: wait a minute and try again")
    if response.status_code != 200:
        detail = _error_text(response)
        raise SignInError(
            f"server at {url} refused the sign-in (HTTP {response.status_code})"
            + (f": {detail}" if detail else "")
        )
    try:
        body = response.json()
        return Session(
            server_url=url,
            token=str(body["token"]),
            user=str(body["user"]),
            role=Role(body["role"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        raise SignInError(f"server at {url} did not answer like a frontdesk server") from None


def _error_text(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        error = response.json().get("error")
        if isinstance(error, str):
            return error[:200]
    return ""


def load_session(data_dir: Path) -> Session | None:
    """The saved session, or None when there is none (or it cannot be read)."""
    path = Path(data_dir) / SESSION_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return Session(
            server_url=str(body["server_url"]),
            token=str(body["token"]),
            user=str(body["user"]),
            role=Role(body["role"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_session(data_dir: Path, session: Session) -> None:
    """Write the session with mode 0600 (it holds a bearer token), atomically."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    body = json.dumps(
        {
            "server_url": session.server_url,
            "token": session.token,
            "user": session.user,
            "role": session.role.value,
            "expires_at": session.expires_at.isoformat(),
        }
    )
    path = directory / SESSION_FILE
    tmp = directory / f".{SESSION_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, body.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def clear_session(data_dir: Path) -> None:
    """Forget the saved token (sign out)."""
    with contextlib.suppress(FileNotFoundError):
        (Path(data_dir) / SESSION_FILE).unlink()
