"""Asking a person for a password, at a terminal or through a pipe."""

from __future__ import annotations

import getpass
import sys


def prompt_password(prompt: str) -> str:
    """A password typed at the terminal without echo, or the first line of a piped stdin."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")
