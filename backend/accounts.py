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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.store import Store, UserRow, open_store
from protocol import text
from protocol.models import Role

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_MAX = 1024
DEFAULT_TTL_HOURS = 12.0


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash as one string that carries its parameters:
    ``scrypt$N$r$p$<salt base64>$<digest base64>`` (16-byte salt, 32-byte digest).

    Stored with its parameters, a hash made under older, weaker ones still verifies, and
    ``needs_rehash`` says to replace it at the next successful sign-in."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was not made with today's parameters (``SCRYPT_N``, ``_R``, ``_P``)."""
    parts = stored.split("$")
    return len(parts) != 6 or parts[:4] != ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P)]


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
        self.changed: Callable[[], Awaitable[object]] | None = None
        """Called after an account is added, disabled or enabled (the staff directory)."""

    async def _changed(self) -> None:
        if self.changed is not None:
            await self.changed()

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
        if not await self.store.add_user(UserRow(name, role.value, hashed, False, time.time())):
            raise ValueError(f"user {name!r} already exists")
        await self._changed()

    async def list_users(self) -> list[dict[str, Any]]:
        """Every user: name, role, disabled, active token count."""
        return [
            {
                "name": user.name,
                "role": user.role,
                "disabled": user.disabled,
                "created_at": datetime.fromtimestamp(user.created_at, UTC).isoformat(),
                "active_tokens": tokens,
            }
            for user, tokens in await self.store.list_users(time.time())
        ]

    async def _require_user(self, name: str) -> None:
        if await self.store.get_user(name) is None:
            raise ValueError(f"no user {name!r}")

    async def set_password(self, name: str, password: str) -> None:
        """Change a password; the user's tokens are revoked (sign in again everywhere)."""
        await self._require_user(name)
        if why := check_password_text(password):
            raise ValueError(why)
        hashed = await asyncio.to_thread(hash_password, password)
        await self.store.set_password(name, hashed)

    async def disable_user(self, name: str, disabled: bool = True) -> None:
        """Disable (or re-enable) a user; disabling revokes every token they hold."""
        await self._require_user(name)
        await self.store.set_disabled(name, disabled)
        await self._changed()

    async def revoke_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many were still active."""
        await self._require_user(name)
        return await self.store.revoke_tokens(name)

    async def authenticate(self, name: str, password: str) -> Role | None:
        """The user's role when name and password match an enabled user, else None."""
        user = await self.store.get_user(name)
        if user is None:
            await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
            return None
        ok = await asyncio.to_thread(verify_password, password, user.password_hash)
        if ok and needs_rehash(user.password_hash):
            # The password is at hand only now: upgrade an old hash to today's parameters.
            # Compare-and-set, so a password changed meanwhile is never overwritten.
            fresh = await asyncio.to_thread(hash_password, password)
            await self.store.replace_password_hash(name, user.password_hash, fresh)
        return Role(user.role) if ok and not user.disabled else None

    async def issue_token(self, name: str) -> dict[str, Any]:
        """A new token for an existing, enabled user: {token, user, role, expires_at}."""
        user = await self.store.get_user(name)
        if user is None:
            raise ValueError(f"no user {name!r}")
        if user.disabled:
            raise ValueError(f"user {name!r} is disabled")
        token = secrets.token_urlsafe(32)
        now = time.time()
        expires = now + self.ttl_seconds
        await self.store.add_token(token_hash(token), name, now, expires)
        return {
            "token": token,
            "user": name,
            "role": user.role,
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
        }

    async def check_token(self, token: str) -> Identity | None:
        """Who holds ``token``, or None when it is unknown, revoked, expired or disabled."""
        return await self.check_hash(token_hash(token))

    async def check_hash(self, hashed: str) -> Identity | None:
        """Like ``check_token`` for a stored hash (re-checking open connections)."""
        owner = await self.store.token_owner(hashed, time.time())
        if owner is None:
            return None
        user, role, expires = owner
        return Identity(user, Role(role), hashed, expires)


@asynccontextmanager
async def open_accounts(
    data_dir: Path | None, database_url: str | None = None, ttl_hours: float = DEFAULT_TTL_HOURS
) -> AsyncIterator[Accounts]:
    """Accounts of the database in ``data_dir`` or at ``database_url`` (for one CLI command)."""
    store = await open_store(data_dir, database_url, load_requests=False)
    try:
        yield Accounts(store, ttl_hours)
    finally:
        await store.close()


async def add_user(
    data_dir: Path | None,
    name: str,
    role: Role | str,
    password: str,
    database_url: str | None = None,
) -> None:
    """Create a user in the database; ValueError with a message when refused."""
    async with open_accounts(data_dir, database_url) as accounts:
        await accounts.add_user(name, role, password)


async def list_users(
    data_dir: Path | None, database_url: str | None = None
) -> list[dict[str, Any]]:
    """Every user of the database (name, role, disabled, active_tokens)."""
    async with open_accounts(data_dir, database_url) as accounts:
        return await accounts.list_users()


async def set_password(
    data_dir: Path | None, name: str, password: str, database_url: str | None = None
) -> None:
    """Change a user's password (revokes their tokens); ValueError when refused."""
    async with open_accounts(data_dir, database_url) as accounts:
        await accounts.set_password(name, password)


async def disable_user(
    data_dir: Path | None, name: str, disabled: bool = True, database_url: str | None = None
) -> None:
    """Disable (or re-enable with ``disabled=False``) a user; ValueError for an unknown user."""
    async with open_accounts(data_dir, database_url) as accounts:
        await accounts.disable_user(name, disabled)


async def revoke_tokens(data_dir: Path | None, name: str, database_url: str | None = None) -> int:
    """Revoke every token of a user; open connections close with 4401 within a minute."""
    async with open_accounts(data_dir, database_url) as accounts:
        return await accounts.revoke_tokens(name)


async def issue_token(
    data_dir: Path | None,
    user: str,
    ttl_hours: float = DEFAULT_TTL_HOURS,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Mint a token for ``user`` straight from the database, like ``GET /api/v1/token`` answers.

    For the demo launcher, which signs in without typing a password.
    """
    async with open_accounts(data_dir, database_url, ttl_hours) as accounts:
        return await accounts.issue_token(user)
