"""The health thresholds a server is configured with (``ServerConfig.health``): plain models,
so the settings can hold them without importing the parts that judge them
(``backend/health.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Level = Literal["ok", "warning", "critical", "unknown"]


class Threshold(BaseModel):
    """A figure at or above ``warning`` is amber, at or above ``critical`` red."""

    model_config = ConfigDict(frozen=True)

    warning: float
    critical: float

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.warning > self.critical:
            raise ValueError("warning must not be above critical")
        return self

    def level(self, value: float | None) -> Level:
        if value is None:
            return "unknown"
        if value >= self.critical:
            return "critical"
        if value >= self.warning:
            return "warning"
        return "ok"


class HealthThresholds(BaseModel):
    """The server setting ``health`` (``[health.commit_p99_ms]`` in TOML,
    ``FRONTDESK_HEALTH__COMMIT_P99_MS__WARNING`` in the environment)."""

    commit_p99_ms: Threshold = Threshold(warning=50, critical=250)
    """p99 of group-commit time over five minutes, milliseconds."""
    fanout_p99_ms: Threshold = Threshold(warning=20, critical=100)
    """p99 of handing one batch's frames to every connection, milliseconds."""
    error_rate: Threshold = Threshold(warning=0.5, critical=5.0)
    """``error`` frames sent per second over five minutes (bad frames, rate limits)."""
    connections: Threshold = Threshold(warning=400, critical=800)
    """Open WebSocket connections on this instance."""
    memory_mb: Threshold = Threshold(warning=512, critical=1024)
    """Resident memory of the server process, MiB."""
