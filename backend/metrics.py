"""Counters and latencies: Prometheus exposition for ``/metrics`` and figures for ``/api/v1/stats``.

Each server owns its own ``CollectorRegistry`` so several servers in one process (tests) never
share counters. Recent latencies are also kept in small ring buffers for the p50/p99 the stats
panel shows.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
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
        self.minutes = MinuteHistory()
        """The last hour, minute by minute (the performance panel's charts)."""

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
            self.minutes.committed(seconds, count)

    def fanned_out(self, seconds: float) -> None:
        self.fanout_seconds.observe(seconds)
        self.recent_fanouts.append(seconds)
        self.minutes.fanned_out(seconds)

    def mutations_per_second(self, window: float = 10.0) -> float:
        """Mutations committed per second over the last ``window`` seconds."""
        cutoff = time.monotonic() - window
        return sum(c for t, c in self.recent_mutations if t >= cutoff) / window

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


MINUTES_KEPT = 60
"""Minutes of history the performance panel charts (the last hour)."""
SAMPLES_PER_MINUTE = 4096
"""Most latencies one minute keeps for its p99 (a busy minute's later ones are dropped)."""


class _Minute:
    """The figures of one clock minute while it runs."""

    __slots__ = ("commits", "connections", "fanouts", "mutations", "rtt", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.mutations = 0
        self.commits: list[float] = []
        self.fanouts: list[float] = []
        self.connections = 0
        self.rtt: dict[str, float] = {}

    def wire(self, seconds: float) -> dict[str, Any]:
        commit, fanout = percentile(self.commits, 0.99), percentile(self.fanouts, 0.99)
        return {
            "at": self.start,
            "mutations_per_s": round(self.mutations / max(seconds, 1.0), 2),
            "commit_p99_ms": None if commit is None else round(commit * 1000, 3),
            "fanout_p99_ms": None if fanout is None else round(fanout * 1000, 3),
            "connections": self.connections,
        }


class MinuteHistory:
    """A per-minute ring buffer of the last hour: mutations/s, commit and fan-out p99,
    connections, and each terminal's round trip (by ``client_id``).

    The server keeps it (not the terminal), so a terminal that restarts still charts the hour.
    Commits and fan-outs add to the running minute; ``sample`` (a job, every few seconds) adds
    the connections and round trips. Minute boundaries are wall-clock minutes (``clock``).
    """

    def __init__(self, minutes: int = MINUTES_KEPT, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.done: deque[_Minute] = deque(maxlen=minutes)
        self.current = _Minute(self._minute())

    def _minute(self) -> int:
        return int(self.clock() // 60) * 60

    def _now(self) -> _Minute:
        start = self._minute()
        if start != self.current.start:
            self.done.append(self.current)
            self.current = _Minute(start)
        return self.current

    def committed(self, seconds: float, count: int) -> None:
        minute = self._now()
        minute.mutations += count
        if len(minute.commits) < SAMPLES_PER_MINUTE:
            minute.commits.append(seconds)

    def fanned_out(self, seconds: float) -> None:
        minute = self._now()
        if len(minute.fanouts) < SAMPLES_PER_MINUTE:
            minute.fanouts.append(seconds)

    def sample(self, connections: int, rtt_ms: dict[str, float]) -> None:
        """The open connections and each client's latest round trip (ms), now."""
        minute = self._now()
        minute.connections = max(minute.connections, connections)
        minute.rtt.update(rtt_ms)

    def window(self, minutes: int) -> tuple[list[float], list[float]]:
        """(commit seconds, fan-out seconds) of the last ``minutes`` minutes, the running one
        included (what the health thresholds judge, like a Prometheus ``[5m]`` range)."""
        running = self._now()
        since = running.start - (minutes - 1) * 60
        chosen = [m for m in (*self.done, running) if m.start >= since]
        return [c for m in chosen for c in m.commits], [f for m in chosen for f in m.fanouts]

    def wire(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Oldest first, the running minute last (its rate over the seconds it has run); with a
        ``client_id``, each minute's ``rtt_ms`` of that terminal (None where unknown)."""
        running = self._now()
        minutes = [*self.done, running]
        out = []
        for m in minutes:
            elapsed = 60.0 if m is not running else self.clock() - m.start
            entry = m.wire(elapsed)
            if client_id is not None:
                entry["rtt_ms"] = m.rtt.get(client_id)
            out.append(entry)
        return out
