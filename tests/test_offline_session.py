"""Signing in: one clear line on every failure, and a token file only its owner can read."""

from __future__ import annotations

import socket
import stat
from datetime import UTC, datetime

import pytest

from offline.errors import SignInError
from offline.session import Session, load_session, save_session, sign_in
from protocol import Role


async def test_sign_in_returns_the_users_session(server):
    session = await sign_in(server.url + "/", "meg", "meg-pass")
    assert session.user == "meg" and session.role == Role.MANAGER
    assert session.server_url == server.url and session.token
    assert session.expires_at > datetime.now(UTC)


async def test_wrong_password_says_so_in_one_line(server):
    with pytest.raises(SignInError) as failed:
        await sign_in(server.url, "ann", "not-her-password")
    assert str(failed.value) == "wrong user name or password"


async def test_unreachable_server_names_the_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(SignInError) as failed:
        await sign_in(url, "ann", "ann-pass")
    assert str(failed.value).startswith(f"cannot reach server at {url}: ")
    assert "\n" not in str(failed.value)


async def test_a_server_address_that_is_not_a_url_is_refused():
    with pytest.raises(SignInError, match="http://HOST:PORT"):
        await sign_in("localhost:8765", "ann", "ann-pass")


def test_saved_session_is_private_and_reloads(tmp_path):
    session = Session(
        server_url="http://127.0.0.1:8765",
        token="secret-token",
        user="ann",
        role=Role.STAFF,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert load_session(tmp_path) is None
    save_session(tmp_path, session)
    mode = stat.S_IMODE((tmp_path / "session.json").stat().st_mode)
    assert mode == 0o600
    assert load_session(tmp_path) == session
    save_session(tmp_path, session)  # replacing keeps it private
    assert stat.S_IMODE((tmp_path / "session.json").stat().st_mode) == 0o600
