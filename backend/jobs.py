"""Background jobs of a running server: token expiry/revocation checks, SLA alerts, clean-up.

Each job is one asyncio task looping on its own period; ``start_jobs`` starts them and the server
cancels them on close. A job that fails logs and tries again next period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from protocol.frames import CloseCode

if TYPE_CHECKING:
    from backend.app import FrontdeskServer

log = logging.getLogger("frontdesk.jobs")


def start_jobs(server: FrontdeskServer) -> list[asyncio.Task[None]]:
    """Start every periodic job of ``server``."""
    config = server.config
    loop = asyncio.get_running_loop()
    jobs: list[tuple[str, float, Callable[[FrontdeskServer], Awaitable[None]]]] = [
        ("tokens", config.token_check_seconds, check_tokens),
    ]
    return [
        loop.create_task(_every(server, name, period, job), name=f"frontdesk-job-{name}")
        for name, period, job in jobs
    ]


async def _every(
    server: FrontdeskServer,
    name: str,
    period: float,
    job: Callable[[FrontdeskServer], Awaitable[None]],
) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await job(server)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s failed; retrying in %.0f s", name, period)


async def check_tokens(server: FrontdeskServer) -> None:
    """Close connections whose token expired or was revoked (4401); refresh roles of the rest."""
    for session in list(server.hub.sessions):
        if session.closing:
            continue
        identity = await server.accounts.check_hash(session.identity.token_hash)
        if identity is None:
            server.hub.close(session, CloseCode.UNAUTHORIZED, "token expired or revoked")
        else:
            session.identity = identity
