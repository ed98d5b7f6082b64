"""Counters and latencies: Prometheus exposition for ``/metrics`` and figures for ``/api/v1/stats``.

Each server owns its own ``CollectorRegistry`` so several servers in one process (tests) never
share counters. Recent latencies are also kept in small ring buffers for the p50/p99 the stats
panel shows.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from protocol.alerts import Bell
from protocol.mutators import MUTATIONS, SYSTEM_MUTATIONS

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Metrics:
    """Everything the server counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.mutations = Counter(
            "frontdesk_mutations",
            "Mutations processed, by name and outcome",
            ["name", "outcome"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "frontdesk_commit_seconds",
            "Time to commit one group-commit batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "frontdesk_batch_mutations",
            "Mutations per group-commit batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.fanout_seconds = Histogram(
            "frontdesk_fanout_seconds",
            "Time to hand one batch's frames to every connection",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.connections = Gauge("frontdesk_connections", "Open WebSocket connections", registry=r)
        self.sign_ins = Counter(
            "frontdesk_sign_ins", "Sign-in attempts, by outcome", ["outcome"], registry=r
        )
        self.frame_errors = Counter(
            "frontdesk_frame_errors", "Error frames sent, by code", ["code"], registry=r
        )
        self.alerts = Counter("frontdesk_alerts", "Alerts raised, by kind", ["kind"], registry=r)
        self.alert_repeats = Counter(
            "frontdesk_alert_repeats",
            "Bells rung again for alerts still unacknowledged, by kind",
            ["kind"],
            registry=r,
        )
        self.recent_commits: deque[float] = deque(maxlen=2048)
        self.recent_fanouts: deque[float] = deque(maxlen=2048)
        self.recent_mutations: deque[tuple[float, int]] = deque(maxlen=4096)
        self._acked: dict[str, Any] = {}
        self.stats_hits = 0
        self.stats_misses = 0

    def applied(self, name: str, count: int = 1) -> None:
        child = self._acked.get(name)
        if child is None:
            child = self._acked[name] = self.mutations.labels(name, "ack")
        child.inc(count)

    def rejected(self, name: str, code: str) -> None:
        known = name in MUTATIONS or name in SYSTEM_MUTATIONS
        self.mutations.labels(name if known else "unknown", "reject").inc()

    def rang(self, bell: Bell) -> None:
        """One bell delivered to this instance's terminals (a new alert, or a repeat)."""
        (self.alert_repeats if bell.repeat else self.alerts).labels(bell.kind).inc()

    def committed(self, seconds: float, count: int) -> None:
        if count:
            self.commit_seconds.observe(seconds)
            self.batch_size.observe(count)
            self.recent_commits.append(seconds)
            self.recent_mutations.append((time.monotonic(), count))

    def fanned_out(self, seconds: float) -> None:
        self.fanout_seconds.observe(seconds)
        self.recent_fanouts.append(seconds)

    def mutations_per_second(self, window: float = 10.0) -> float:
        """Mutations committed per second over the last ``window`` seconds."""
        cutoff = time.monotonic() - window
        return sum(c for t, c in self.recent_mutations if t >= cutoff) / window

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)
