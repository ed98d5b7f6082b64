"""Sign in again when the server refuses the saved token; pending edits wait meanwhile.

The engine keeps every pending edit in its outbox while the token is refused; this dialog gets
a new token (``offline.session.sign_in``), saves it next to the replica (mode 0600) and hands it
to the engine, which reconnects and delivers what was waiting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from offline.errors import SignInError
from offline.events import EngineStatus
from offline.session import save_session, sign_in
from tui.text import literal

if TYPE_CHECKING:
    from offline.engine import Engine


def needs_sign_in(status: EngineStatus) -> bool:
    """True when the server refused the token: retrying alone will not get back online."""
    return status.needs_sign_in


class SignInScreen(ModalScreen[bool]):
    """The password for the configured user and server; Esc keeps working offline."""

    BINDINGS = [Binding("escape", "cancel", "Work offline", id="sign_in.cancel")]

    def __init__(self, engine: Engine, reason: str = "") -> None:
        super().__init__()
        self.engine = engine
        self.reason = reason

    def compose(self) -> ComposeResult:
        config = self.engine.config
        with Vertical(id="note-box"):
            yield Label("Sign in", id="form-title")
            yield Static(literal(self.reason or "The server asks you to sign in again."))
            yield Static(literal(f"{config.user} at {config.server_url}"), id="sign-in-who")
            yield Input(id="password", password=True, placeholder="password")
            yield Static("", id="sign-in-error", classes="form-error")
            yield Label(
                "Enter sign in · Esc keep working offline (edits stay pending)", id="form-help"
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        config = self.engine.config
        if config.server_url is None:
            self.dismiss(False)
            return
        try:
            session = await sign_in(config.server_url, config.user, event.value)
        except SignInError as error:
            self.query_one("#sign-in-error", Static).update(literal(str(error)))
            event.input.value = ""
            return
        save_session(config.data_dir, session)
        self.engine.set_token(session.token)
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
