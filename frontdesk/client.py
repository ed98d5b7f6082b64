"""`frontdesk tui`: sign in (once), then run the TUI on the local replica.

The password is asked for only when there is no usable saved session; the token is kept in the
replica's directory with mode 0600. With the server down and a saved session, the TUI starts
anyway: it shows the last known state and takes edits (the outage promise).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from frontdesk import paths
from frontdesk.errors import CliError
from frontdesk.prompts import prompt_password
from frontdesk.tui_settings import app_options, load_for_replica
from offline.engine import EngineConfig
from offline.errors import SignInError
from offline.session import Session, load_session, save_session, sign_in


def _usable(session: Session | None, server_url: str, user: str) -> bool:
    return (
        session is not None
        and session.user == user
        and session.server_url.rstrip("/") == server_url.rstrip("/")
    )


def obtain_session(server_url: str, user: str, data_dir: Path) -> Session:
    """A saved session for this server and user, or a fresh sign-in with a typed password."""
    saved = load_session(data_dir)
    if _usable(saved, server_url, user):
        assert saved is not None
        if saved.expires_at > datetime.now(UTC):
            return saved
    password = prompt_password(f"Password for {user} at {server_url}: ")
    try:
        session = asyncio.run(sign_in(server_url, user, password))
    except SignInError as exc:
        if _usable(saved, server_url, user) and "reach" in str(exc):
            assert saved is not None
            return saved  # expired token, server down: work offline, sign in again later
        raise CliError(str(exc)) from exc
    save_session(data_dir, session)
    return session


def run_tui(*, server_url: str, user: str, data_dir: Path | None) -> int:
    """Run the TUI until the user quits."""
    from tui.app import FrontdeskApp

    data_dir = data_dir or paths.client_data_dir(server_url, user)
    data_dir.mkdir(parents=True, exist_ok=True)
    session = obtain_session(server_url, user, data_dir)
    config = EngineConfig(
        data_dir=data_dir,
        user=session.user,
        role=session.role,
        server_url=server_url,
        token=session.token,
    )
    FrontdeskApp(config, **app_options(load_for_replica(data_dir))).run()
    return 0
