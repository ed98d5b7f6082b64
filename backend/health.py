"""System health: warning and critical thresholds the server evaluates, and the same
thresholds as Prometheus alerting rules.

The server judges its own figures every few seconds (``HealthWatch.sample``, a job) and
``/api/v1/stats`` carries the verdicts, so the performance panel shows a breach in amber or red
with the threshold beside it. ``docs/prometheus-rules.yml`` is generated from the same defaults
(``python -m backend.health > docs/prometheus-rules.yml``; a test holds the file equal to it and
runs ``promtool check rules`` on it), so an operator's Prometheus and the panel agree.

Windows: latencies are the p99 of the last five minutes (the rules use ``[5m]`` too), the error
rate is error frames per second over the last five minutes, connections and memory are now.
Clients do not report their outbox age to the server, so it is not judged here: each terminal
shows its own on its panel.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from backend.hub import Hub
from backend.metrics import Metrics, percentile
from backend.thresholds import HealthThresholds, Threshold

WINDOW_MINUTES = 5
HEALTH_SAMPLE_SECONDS = 5.0
"""How often connections, round trips and the error count are sampled (a server job)."""


LABELS: dict[str, tuple[str, str]] = {
    "commit_p99_ms": ("Commit p99", "ms"),
    "fanout_p99_ms": ("Fan-out p99", "ms"),
    "error_rate": ("Error frames", "/s"),
    "connections": ("Connections", ""),
    "memory_mb": ("Memory", "MiB"),
}
"""Each judged figure: how the panel names it, and its unit."""


def _total(metrics: Metrics, name: str) -> float:
    """The sum of every sample called ``name`` in the server's registry (all label values)."""
    return sum(
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    )


class HealthWatch:
    """Samples connections, round trips and error counts; judges the thresholds."""

    def __init__(
        self,
        hub: Hub,
        metrics: Metrics,
        thresholds: HealthThresholds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.metrics = metrics
        self.thresholds = thresholds
        self.clock = clock
        self.errors: deque[tuple[float, float]] = deque()
        """(time, error frames sent so far), over the window."""

    async def sample(self) -> None:
        """Connections and each terminal's latest round trip into the minute history; the error
        count for its rate."""
        rtt: dict[str, float] = {}
        for session in self.hub.sessions:
            latency = session.ws.latency
            if session.client_id is not None and latency:
                rtt[session.client_id] = round(latency * 1000, 1)
        self.metrics.minutes.sample(len(self.hub.sessions), rtt)
        now = self.clock()
        self.errors.append((now, _total(self.metrics, "frontdesk_frame_errors_total")))
        while len(self.errors) > 2 and self.errors[1][0] <= now - WINDOW_MINUTES * 60:
            self.errors.popleft()

    def figures(self) -> dict[str, float | None]:
        commits, fanouts = self.metrics.minutes.window(WINDOW_MINUTES)
        commit, fanout = percentile(commits, 0.99), percentile(fanouts, 0.99)
        rate = None
        if len(self.errors) >= 2:
            (t0, e0), (t1, e1) = self.errors[0], self.errors[-1]
            rate = (e1 - e0) / (t1 - t0) if t1 > t0 else 0.0
        memory = self.metrics.registry.get_sample_value("process_resident_memory_bytes")
        return {
            "commit_p99_ms": None if commit is None else round(commit * 1000, 3),
            "fanout_p99_ms": None if fanout is None else round(fanout * 1000, 3),
            "error_rate": None if rate is None else round(rate, 3),
            "connections": float(len(self.hub.sessions)),
            "memory_mb": None if memory is None else round(memory / 2**20, 1),
        }

    def wire(self) -> list[dict[str, Any]]:
        """Each figure with its thresholds and verdict (``/api/v1/stats`` ``health``)."""
        out = []
        for name, value in self.figures().items():
            threshold: Threshold = getattr(self.thresholds, name)
            label, unit = LABELS[name]
            out.append(
                {
                    "name": name,
                    "label": label,
                    "unit": unit,
                    "value": value,
                    "warning": threshold.warning,
                    "critical": threshold.critical,
                    "level": threshold.level(value),
                }
            )
        return out


RULE_EXPRESSIONS: dict[str, str] = {
    "commit_p99_ms": "histogram_quantile(0.99, sum by (instance, le)"
    " (rate(frontdesk_commit_seconds_bucket[5m]))) * 1000",
    "fanout_p99_ms": "histogram_quantile(0.99, sum by (instance, le)"
    " (rate(frontdesk_fanout_seconds_bucket[5m]))) * 1000",
    "error_rate": "sum by (instance) (rate(frontdesk_frame_errors_total[5m]))",
    "connections": "frontdesk_connections",
    "memory_mb": "process_resident_memory_bytes / 1048576",
}
"""The PromQL of each figure, as the server computes it (per instance)."""


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def prometheus_rules(thresholds: HealthThresholds | None = None) -> str:
    """The alerting rules file (YAML) for ``thresholds`` (the defaults when None)."""
    chosen = thresholds or HealthThresholds()
    lines = [
        "# frontdesk health thresholds as Prometheus alerting rules: the same figures and",
        "# defaults the server judges for its performance panel (backend/health.py).",
        "# Generated: python -m backend.health > docs/prometheus-rules.yml",
        "# Checked by `promtool check rules` in the tests (tests/test_health.py).",
        "groups:",
        "  - name: frontdesk-health",
        "    rules:",
    ]
    for name, expression in RULE_EXPRESSIONS.items():
        threshold: Threshold = getattr(chosen, name)
        label, unit = LABELS[name]
        title = "".join(part.capitalize() for part in name.split("_"))
        for severity, limit in (("warning", threshold.warning), ("critical", threshold.critical)):
            lines += [
                f"      - alert: Frontdesk{title}{severity.capitalize()}",
                f"        expr: {expression} >= {_number(limit)}",
                "        for: 2m",
                "        labels:",
                f"          severity: {severity}",
                "        annotations:",
                f'          summary: "frontdesk {label} at or above {_number(limit)}{unit}'
                ' on {{ $labels.instance }}"',
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(prometheus_rules())
