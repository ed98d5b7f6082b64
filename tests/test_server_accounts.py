"""Accounts kept by the store: a password hashed under older parameters is upgraded at sign-in."""

from __future__ import annotations

import time

import httpx
from helpers import connect, token_for

from backend.accounts import SCRYPT_N, hash_password, needs_rehash, verify_password
from backend.store import UserRow


async def test_an_old_password_hash_is_upgraded_at_the_next_sign_in_and_keeps_working(server):
    old = hash_password("lobby-night", n=2**12)  # what an older release stored
    assert needs_rehash(old)
    assert await server.store.add_user(UserRow("nina", "staff", old, False, time.time()))
    first = await token_for(server, "nina", "lobby-night")
    upgraded = await server.store.get_user("nina")
    assert upgraded is not None and upgraded.password_hash != old
    assert upgraded.password_hash.startswith(f"scrypt${SCRYPT_N}$")
    assert not needs_rehash(upgraded.password_hash)
    assert verify_password("lobby-night", upgraded.password_hash)
    # The token issued at that sign-in still works (a rehash is not a password change) ...
    nina = await connect(server, first)
    await nina.create()
    # ... and so do the password and a wrong one is still refused.
    await token_for(server, "nina", "lobby-night")
    async with httpx.AsyncClient(base_url=server.url) as http:
        wrong = await http.get("/api/v1/token", auth=("nina", "lobby-day"))
    assert wrong.status_code == 401
    assert (await server.store.get_user("nina")).password_hash == upgraded.password_hash
