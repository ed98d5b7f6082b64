"""`frontdesk user ...`: account administration straight on the server's data directory.

These work while the server runs (SQLite in WAL mode); a running server closes the sessions of a
disabled or revoked user within its token check interval.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from backend import accounts
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
        if sys.stdin.isatty() and prompt_password("Again: ") != password:
            raise CliError("the two passwords differ")
    if not password:
        raise CliError("the password is empty")
    return password


def _dir(args: argparse.Namespace) -> Path:
    return args.data_dir or paths.server_data_dir()


def run(action: str, args: argparse.Namespace) -> int:
    """One account action; a bad name or an unknown user is one clear line."""
    data_dir = _dir(args)
    try:
        if action == "add":
            password = read_password(args.password_stdin)
            asyncio.run(accounts.add_user(data_dir, args.name, Role(args.role), password))
            print(f"frontdesk: user {args.name} ({args.role}) added")
        elif action == "list":
            users = asyncio.run(accounts.list_users(data_dir))
            for user in users:
                state = "disabled" if user.get("disabled") else "active"
                print(f"{user['name']:<24} {user['role']:<8} {state}")
        elif action == "passwd":
            password = read_password(args.password_stdin, f"New password for {args.name}: ")
            asyncio.run(accounts.set_password(data_dir, args.name, password))
            print(f"frontdesk: password of {args.name} changed")
        elif action in ("disable", "enable"):
            asyncio.run(accounts.disable_user(data_dir, args.name, action == "disable"))
            print(f"frontdesk: user {args.name} {action}d")
        elif action == "revoke":
            count = asyncio.run(accounts.revoke_tokens(data_dir, args.name))
            print(f"frontdesk: {count} token(s) of {args.name} revoked")
        else:
            raise CliError(f"unknown user action {action!r}")
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return 0
