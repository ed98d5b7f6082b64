"""The bench's load generator sends exactly the frames it means to, whatever its client_id.

Its frames are filled into a template; a marker replaced without its JSON key around it once
matched inside a random client_id ("…721…"), so that client sent every mutation under a wrong
client_id, the server answered ``wrong_client`` and closed it as ``rate_limited``, and a bench
round never finished (about one full ``bench instances`` run in three).
"""

from __future__ import annotations

import json

import pytest

from bench.loadgen import CreateFrames, create_frame
from protocol.wire import decode_client_frame


@pytest.mark.parametrize(
    "client_id",
    [
        "5f0e7214-1c2d-4b7a-9d21-0a6c3e9b7721",  # holds "721", the marker's room
        "98765432-1000-4000-8000-987654321000",  # holds the marker's n
        "a3c1e0d2-0000-4000-8000-00000000cafe",  # holds the end of the marker's id
    ],
)
def test_every_frame_carries_its_client_id_n_room_and_description(client_id):
    frames = CreateFrames(client_id)
    for n in (1, 621, 721, 987654321 % 1000, 123456):
        sent = json.loads(frames.build(n))
        expected = json.loads(create_frame(client_id, n, sent["args"]["id"]))
        assert sent == expected
        frame = decode_client_frame(frames.build(n))
        assert frame.client_id == client_id and frame.n == n
