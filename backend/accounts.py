"""Users, password hashes and sign-in tokens.

Passwords are hashed with salted scrypt (deliberately slow, run in a thread so the event loop
keeps serving). Tokens are opaque random strings handed out once; the database keeps only their
SHA-256, so a copy of the database cannot be used to sign in.

The module-level ``async`` helpers take a data directory: the CLI calls them, whether or not a
server is running on the same directory (WAL lets both work at once).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.store import Store
from protocol import text
from protocol.models import Role

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_MAX = 1024
DEFAULT_TTL_HOURS = 12.0


def hash_password(password: str) -> str:
    """A salted scrypt hash, with its parameters, as one string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password("not a password anybody has")
"""Checked against when the user does not exist, so timing does not tell who exists."""


def token_hash(token: str) -> str:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to, as the server sees them now."""

    user: str
    role: Role
    token_hash: str
    expires_at: float


def check_password_text(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < 4:
        return "password must be at least 4 characters"
    if len(password) > PASSWORD_MAX:
        return f"password must be at most {PASSWORD_MAX} characters"
    if "\x00" in password:
        return "password cannot contain NUL characters"
    return None


class Accounts:
    """Users and tokens of one store."""

    def __init__(self, store: Store, ttl_hours: float = DEFAULT_TTL_HOURS) -> None:
        self.store = store
        self.ttl_seconds = ttl_hours * 3600

    async def add_user(self, name: str, role: Role | str, password: str) -> None:
        """Create a user; ValueError with a message for a bad or taken name, role or password."""
        if why := text.check_user_name(name):
            raise ValueError(why)
        try:
            role = Role(role)
        except ValueError:
            raise ValueError(f"role must be one of {', '.join(r.value for r in Role)}") from None
        if why := check_password_text(password):
            raise ValueError(why)
        hashed = await asyncio.to_thread(hash_password, password)
        count = await self.store.write(
            "INSERT OR IGNORE INTO users (name, role, password_hash, disabled, created_at)"
            " VALUES (?, ?, ?, 0, ?)",
            (name, role.value, hashed, time.time()),
        )
        if count == 0:
            raise ValueError(f"user {name!r} already exists")

    async def list_users(self) -> list[dict[str, Any]]:
        """Every user: name, role, disabled, active token count."""
        rows = await self.store.read(
            "SELECT u.name, u.role, u.disabled, u.created_at,"
            " (SELECT count(*) FROM tokens t WHERE t.user = u.name AND t.revoked = 0"
            "  AND t.expires_at > ?) FROM users u ORDER BY u.name",
            (time.time(),),
        )
        return [
            {
                "name": name,
                "role": role,
                "disabled": bool(disabled),
                "created_at": datetime.fromtimestamp(created, UTC).isoformat(),
                "active_tokens": tokens,
            }
            for name, role, disabled, created, tokens in rows
        ]

    async def _require_user(self, name: str) -> None:
        if not await self.store.read("SELECT 1 FROM users WHERE name = ?", (name,)):
            raise ValueError(f"no user {name!r}")

    async def set_password(self, name: str, password: str) -> None:
        """Change a password; the user's tokens are revoked (sign in again everywhere)."""
        await self._require_user(name)
        if why := check_password_text(password):
            raise ValueError(why)
        hashed = await asyncio.to_thread(hash_password, password)
        await self.store.write_many(
            [
                ("UPDATE users SET password_hash = ? WHERE name = ?", (hashed, name)),
                ("UPDATE tokens SET revoked = 1 WHERE user = ?", (name,)),
            ]
        )

    async def disable_user(self, name: str, disabled: bool = True) -> None:
        """Disable (or re-enable) a user; disabling revokes every token they hold."""
        await self._require_user(name)
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
        ]
        if disabled:
            statements.append(("UPDATE tokens SET revoked = 1 WHERE user = ?", (name,)))
        await self.store.write_many(statements)

    async def revoke_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many were still active."""
        await self._require_user(name)
        return await self.store.write(
            "UPDATE tokens SET revoked = 1 WHERE user = ? AND revoked = 0", (name,)
        )

    async def authenticate(self, name: str, password: str) -> Role | None:
        """The user's role when name and password match an enabled user, else None."""
        rows = await self.store.read(
            "SELECT role, password_hash, disabled FROM users WHERE name = ?", (name,)
        )
        if not rows:
            await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
            return None
        role, stored, disabled = rows[0]
        ok = await asyncio.to_thread(verify_password, password, stored)
        return Role(role) if ok and not disabled else None

    async def issue_token(self, name: str) -> dict[str, Any]:
        """A new token for an existing, enabled user: {token, user, role, expires_at}."""
        rows = await self.store.read("SELECT role, disabled FROM users WHERE name = ?", (name,))
        if not rows:
            raise ValueError(f"no user {name!r}")
        if rows[0][1]:
            raise ValueError(f"user {name!r} is disabled")
        token = secrets.token_urlsafe(32)
        now = time.time()
        expires = now + self.ttl_seconds
        await self.store.write(
            "INSERT INTO tokens (hash, user, created_at, expires_at, revoked)"
            " VALUES (?, ?, ?, ?, 0)",
            (token_hash(token), name, now, expires),
        )
        return {
            "token": token,
            "user": name,
            "role": rows[0][0],
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
        }

    async def check_token(self, token: str) -> Identity | None:
        """Who holds ``token``, or None when it is unknown, revoked, expired or disabled."""
        return await self.check_hash(token_hash(token))

    async def check_hash(self, hashed: str) -> Identity | None:
        """Like ``check_token`` for a stored hash (re-checking open connections)."""
        rows = await self.store.read(
            "SELECT t.user, u.role, t.expires_at FROM tokens t JOIN users u ON u.name = t.user"
            " WHERE t.hash = ? AND t.revoked = 0 AND u.disabled = 0 AND t.expires_at > ?",
            (hashed, time.time()),
        )
        if not rows:
            return None
        user, role, expires = rows[0]
        return Identity(user, Role(role), hashed, expires)


@asynccontextmanager
async def open_accounts(data_dir: Path) -> AsyncIterator[Accounts]:
    """Accounts of the database in ``data_dir`` (opened for one CLI command)."""
    store = await Store.open(Path(data_dir), load_requests=False)
    try:
        yield Accounts(store)
    finally:
        await store.close()


async def add_user(data_dir: Path, name: str, role: Role | str, password: str) -> None:
    """Create a user in ``data_dir``'s database; ValueError with a message when refused."""
    async with open_accounts(data_dir) as accounts:
        await accounts.add_user(name, role, password)


async def list_users(data_dir: Path) -> list[dict[str, Any]]:
    """Every user of ``data_dir``'s database (name, role, disabled, active_tokens)."""
    async with open_accounts(data_dir) as accounts:
        return await accounts.list_users()


async def set_password(data_dir: Path, name: str, password: str) -> None:
    """Change a user's password (revokes their tokens); ValueError when refused."""
    async with open_accounts(data_dir) as accounts:
        await accounts.set_password(name, password)


async def disable_user(data_dir: Path, name: str, disabled: bool = True) -> None:
    """Disable (or re-enable with ``disabled=False``) a user; ValueError for an unknown user."""
    async with open_accounts(data_dir) as accounts:
        await accounts.disable_user(name, disabled)


async def revoke_tokens(data_dir: Path, name: str) -> int:
    """Revoke every token of a user; open connections close with 4401 within a minute."""
    async with open_accounts(data_dir) as accounts:
        return await accounts.revoke_tokens(name)


async def issue_token(
    data_dir: Path, user: str, ttl_hours: float = DEFAULT_TTL_HOURS
) -> dict[str, Any]:
    """Mint a token for ``user`` straight from the database, like ``GET /api/v1/token`` answers.

    For the demo launcher, which signs in without typing a password.
    """
    store = await Store.open(Path(data_dir), load_requests=False)
    try:
        return await Accounts(store, ttl_hours).issue_token(user)
    finally:
        await store.close()
