"""What an engine is opened with: where its replica lives, who edits, which server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from protocol import Role


@dataclass(frozen=True)
class EngineConfig:
    """Where the replica lives, who edits, and which server (None: offline only)."""

    data_dir: Path
    user: str
    role: Role
    server_url: str | None = None
    token: str | None = None
    push_window: int = 256
    """Mutations on the wire at once, unanswered: the server's lane per connection holds 256
    (``queue_per_connection``), so a replay keeps its group commit full; a bigger window only
    waits in TCP. 64 left the server's batches small and cost the engine a transaction and a
    socket write per handful of acks."""
    backoff_base: float = 0.2
    backoff_cap: float = 5.0
    window_days: float = 14.0
    """The replica keeps open requests and those closed within this many days (the server's
    snapshot sends the same window); older ones are looked up with ``Engine.lookup``."""
    conflict_strategies: Mapping[str, str] | None = None
    """Per field group (``status``, ``assignee``, ``descriptive``): ``server-wins``,
    ``client-wins``, ``merge`` or ``manual``; unset groups keep the defaults of
    ``offline.conflicts.DEFAULT_STRATEGIES``."""
