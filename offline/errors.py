"""Errors the offline engine raises to its callers (the TUI and the CLI).

Each carries one line a person can read: callers show ``str(error)`` as is.
"""

from __future__ import annotations

from protocol import Rejection


class OfflineError(Exception):
    """Base of every error raised by ``offline``."""


class Rejected(OfflineError):
    """The local prediction refused an edit: nothing was queued, nothing changed.

    ``rejection`` holds the code, the message and the per-field reasons (for forms).
    """

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection

    @property
    def code(self) -> str:
        return self.rejection.code

    @property
    def fields(self) -> dict[str, str]:
        return self.rejection.fields


class SignInError(OfflineError):
    """Signing in failed; the message says why in one line."""


class ReplicaUnavailable(OfflineError):
    """The local replica cannot be opened (permissions, a full disk, a damaged follower copy)."""


class EngineClosed(OfflineError):
    """The engine was closed; it accepts no more edits."""


class UnknownConflict(OfflineError):
    """``resolve_conflict`` was given an id that is not (or no longer) parked."""


class ServerApiError(OfflineError):
    """A read from the server's HTTP API (stats, history) failed; the message says why."""
