"""The failover story of ``test_instances_failover.py``, longer: three real instances on one
PostgreSQL behind HAProxy, 12 terminals writing 1,500 requests each and 12 watching, one
instance SIGKILLed mid-load, then PostgreSQL restarted. ``make soak`` only (a few minutes).
"""

from __future__ import annotations

import sys

import pytest
from failover_kit import run_failover

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900)]


async def test_soak_failover_keeps_every_acked_edit_once_in_order(
    pg_url, pg_cluster, start_haproxy, tmp_path
):
    figures = await run_failover(
        pg_url,
        pg_cluster,
        start_haproxy,
        tmp_path,
        writers=12,
        listeners=12,
        per_writer=1500,
        pace=0.001,
    )
    assert figures.acked == 12 * 1500
    print(
        f"soak failover: {figures.acked} acked, head {figures.head}, slowest resume "
        f"{figures.failover_s:.2f} s, {figures.reconnects} reconnects",
        file=sys.stderr,
    )
