"""The server keeps every frame it sends under 1 MiB (DESIGN.md), whatever people typed.

A client built on a stock WebSocket library refuses frames over 1 MiB (websockets' default
``max_size``), so a bigger frame from the server disconnects it. The largest answer the protocol
has is the ``ack`` of a ``bulk_set_status``, which carries every row it changed: ``BULK_MAX``
requests with 2,000-character descriptions (the description maximum) must still fit. (Rows
grown large by notes are capped by ``ROW_MAX_BYTES`` and ``BULK_MAX_BYTES`` in the rule book.)
"""

from __future__ import annotations

import uuid

from helpers import connect_as

from protocol.frames import MAX_SERVER_FRAME
from protocol.mutators import BULK_MAX
from protocol.text import DESCRIPTION_MAX


async def test_the_ack_of_the_biggest_bulk_change_fits_in_one_mib(server):
    meg = await connect_as(server, "meg", max_size=MAX_SERVER_FRAME)
    ids = [str(uuid.uuid4()) for _ in range(BULK_MAX)]
    for rid in ids:
        n = await meg.mutate(
            "create_request",
            {
                "id": rid,
                "room": "1204",
                "category": "housekeeping",
                "description": "d" * DESCRIPTION_MAX,
                "priority": "low",
            },
        )
    assert (await meg.outcome(n, timeout=30))["type"] == "ack"
    n = await meg.mutate("bulk_set_status", {"ids": ids, "status": "acknowledged"})
    answer = await meg.outcome(n, timeout=30)  # ConnectionClosed (1009) when over 1 MiB
    assert answer["type"] == "ack"
    await meg.close()
