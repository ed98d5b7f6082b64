"""`frontdesk user ...`: account administration straight on the server's data directory.

These work while the server runs (SQLite in WAL mode); a running server closes the sessions of a
disabled or revoked user within its token check interval.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from backend import accounts
from backend.store import StoreUnavailable
from frontdesk.errors import CliError
from frontdesk.prompts import prompt_password
from frontdesk.serve import build_config
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


def run(action: str, args: argparse.Namespace) -> int:
    """One account action; a bad name, an unknown user or an unreachable database is one
    clear line."""
    config = build_config(data_dir=args.data_dir, database_url=args.database_url)
    data_dir, url = config.data_dir, config.database_url
    try:
        if action == "add":
            password = read_password(args.password_stdin)
            asyncio.run(accounts.add_user(data_dir, args.name, Role(args.role), password, url))
            print(f"frontdesk: user {args.name} ({args.role}) added")
        elif action == "list":
            users = asyncio.run(accounts.list_users(data_dir, url))
            for user in users:
                state = "disabled" if user.get("disabled") else "active"
                print(f"{user['name']:<24} {user['role']:<8} {state}")
        elif action == "passwd":
            password = read_password(args.password_stdin, f"New password for {args.name}: ")
            asyncio.run(accounts.set_password(data_dir, args.name, password, url))
            print(f"frontdesk: password of {args.name} changed")
        elif action in ("disable", "enable"):
            asyncio.run(accounts.disable_user(data_dir, args.name, action == "disable", url))
            print(f"frontdesk: user {args.name} {action}d")
        elif action == "revoke":
            count = asyncio.run(accounts.revoke_tokens(data_dir, args.name, url))
            print(f"frontdesk: {count} token(s) of {args.name} revoked")
        else:
            raise CliError(f"unknown user action {action!r}")
    except (ValueError, StoreUnavailable) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    return 0
