"""`frontdesk user ...`: account administration straight on the server's data directory."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from backend.accounts import add_user
from frontdesk import paths
from frontdesk.errors import CliError
from frontdesk.prompts import prompt_password
from protocol.models import Role


def read_password(from_stdin: bool, prompt: str = "Password: ") -> str:
    """A new password: the first line of stdin, or typed twice at a prompt without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = prompt_password(prompt)
        if prompt_password("Again: ") != password:
            raise CliError("the two passwords differ")
    if not password:
        raise CliError("the password is empty")
    return password


def add_user_command(name: str, role: str, password_stdin: bool, data_dir: Path | None) -> int:
    """Create one user; a duplicate or a bad name is one clear line."""
    password = read_password(password_stdin)
    try:
        asyncio.run(add_user(data_dir or paths.server_data_dir(), name, Role(role), password))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"frontdesk: user {name} ({role}) added")
    return 0
