"""The hypothesis desk story of ``test_reliability_stateful.py``, longer and more often."""

from __future__ import annotations

import pytest
from test_reliability_stateful import run_big


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_many_long_desk_stories_end_with_every_replica_equal_to_the_server():
    run_big(examples=25, steps=60)
