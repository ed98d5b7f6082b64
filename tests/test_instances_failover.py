"""Three real ``frontdesk serve`` instances on one PostgreSQL behind a real HAProxy: one is
SIGKILLed mid-load, then PostgreSQL itself restarts, and the service loses nothing.

The clients connect only through HAProxy (``docs/haproxy.cfg.example``, as operators run it);
when their instance dies they reconnect through it to another, resume from ``last_seq`` and
resend what is unanswered, as the offline engine does.
"""

from __future__ import annotations

import sys

import pytest
from failover_kit import run_failover


@pytest.mark.timeout(300)
async def test_an_instance_killed_mid_load_then_a_database_restart_lose_nothing(
    pg_url, pg_cluster, start_haproxy, tmp_path
):
    figures = await run_failover(pg_url, pg_cluster, start_haproxy, tmp_path)
    assert figures.acked == 1800
    print(
        f"failover: {figures.acked} acked, head {figures.head}, slowest resume "
        f"{figures.failover_s:.2f} s, {figures.reconnects} reconnects",
        file=sys.stderr,
    )
