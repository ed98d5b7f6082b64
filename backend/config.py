"""Server settings: typed, documented where declared, overridable by ``FRONTDESK_*`` env vars.

A TOML file can be given too (``ServerConfig.from_toml``); env vars win over the file, and
arguments passed in code win over both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from backend.shifts import DEFAULT_SHIFTS, parse_shifts, zone
from backend.thresholds import HealthThresholds
from protocol.sla import SlaTable


class ServerConfig(BaseSettings):
    """Everything ``frontdesk serve`` can be told. Secrets are never among these fields."""

    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    """Address to listen on; loopback by default so a fresh install is closed to strangers."""
    port: int = 8765
    """TCP port for WebSocket and HTTP; 0 picks a free port (tests)."""
    data_dir: Path
    """Directory holding the SQLite database (``frontdesk.sqlite3``); unused with a
    ``database_url``."""
    database_url: str | None = None
    """``postgresql://USER@HOST:PORT/DB``: run as one of several instances on PostgreSQL
    instead of SQLite in ``data_dir`` (env ``FRONTDESK_DATABASE_URL``). A password belongs in
    ``~/.pgpass`` or ``PGPASSWORD``, not here."""
    database_pool_size: int = 4
    """PostgreSQL connections this instance keeps for reads and commits (plus one listener)."""
    follow_seconds: float = 1.0
    """On PostgreSQL, how often an instance reads the shared log even without a notification
    (a lost notification then costs at most this much latency, never a change)."""
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """SQLite ``synchronous`` with WAL: NORMAL survives a killed process, FULL a power loss too."""
    tls_cert: Path | None = None
    """PEM certificate chain; with ``tls_key`` the server speaks HTTPS/WSS only."""
    tls_key: Path | None = None
    """PEM private key matching ``tls_cert``."""
    token_ttl_hours: float = 12.0
    """How long a sign-in token stays valid: one shift."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to open ``/ws``; empty refuses every request with an Origin."""
    catchup_page_size: int = 1000
    """Most change-log entries in one ``changes`` catch-up page."""
    sla: SlaTable = Field(default_factory=SlaTable)
    """Minutes allowed per priority (and per-category overrides) before a request is overdue."""
    batch_max: int = 256
    """Most mutations the writer commits in one transaction (group commit)."""
    queue_per_connection: int = 256
    """Unprocessed mutations one connection may have queued before the server stops reading."""
    send_buffer_max: int = 4 * 1024 * 1024
    """Bytes waiting to be written to one client before it is closed with 1013 as too slow."""
    ping_interval: float = 2.5
    """Seconds between keepalive pings (one server job pings every connection)."""
    ping_timeout: float = 4.0
    """A ping unanswered this long marks the connection dead: it is dropped, and leaves presence.
    With the defaults a dead client is gone within 10 s."""
    close_timeout: float = 2.0
    """Seconds a closing handshake may take before the connection is dropped."""
    max_connections_per_user: int = 8
    """Open connections one user may hold; a new one beyond it closes the oldest (4429)."""
    chatter_rate: float = 10.0
    """Invalid frames, ``presence`` and ``subscribe`` allowed per second per connection."""
    chatter_burst: float = 50.0
    """Burst allowance for chatter before ``rate_limited`` errors and close 1008."""
    snapshot_window_days: float = 14.0
    """A ``snapshot`` (a new terminal, or one older than the kept log) carries the open requests
    and those closed within this many days; a ``hello`` may ask for its own ``window_days``.
    Older ones are looked up through ``/api/v1/requests``."""
    snapshot_log_entries: int = 10_000
    """A new terminal (``hello`` with ``last_seq`` 0) gets a snapshot of the working set rather
    than the change log when the kept log holds more entries than this (a month of a busy
    hotel group's log is far more than its open requests)."""
    log_keep_days: float = 30.0
    """Change-log entries older than this are compacted away; older clients get a snapshot."""
    outcome_keep_days: float = 7.0
    """Stored mutation outcomes are kept at least this long (exactly-once resend answers)."""
    outcome_keep_per_client: int = 10_000
    """... and at least this many of the latest per client."""
    sla_check_seconds: float = 2.0
    """How often the SLA job looks for requests past their deadline."""
    escalate: bool = True
    """On an SLA breach, raise the priority one step with a fresh deadline (``escalated``)."""
    alert_repeat_seconds: float = Field(default=600.0, gt=0)
    """An alert still unacknowledged this long rings again, and again after each period."""
    staff_check_seconds: float = Field(default=10.0, gt=0)
    """How often the staff directory is read again (accounts changed by ``frontdesk user`` or
    another instance); changes made through this server are seen at once."""
    checkpoint_seconds: float = 1.0
    """How often the WAL is checkpointed into the database, off the group-commit path."""
    cleanup_seconds: float = 3600.0
    """How often the change log is compacted and old mutation outcomes are pruned."""
    token_check_seconds: float = 30.0
    """How often open connections are checked for expired or revoked tokens."""
    gc_tuning: bool = True
    """Freeze start-up objects out of garbage collection and collect young objects less often."""
    login_delay_base: float = 0.25
    """First delay after a failed sign-in; doubles per further failure (capped at 8 s)."""
    shifts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SHIFTS))
    """Shift boundaries in ``shift_timezone``, ``name = "HH:MM-HH:MM"`` (an end at or before the
    start is on the next day): what ``frontdesk report --shift`` and the handover screen cover."""
    shift_timezone: str | None = None
    """The hotel's IANA time zone for shift boundaries (e.g. ``Europe/Paris``); None: the
    server machine's local zone."""

    health: HealthThresholds = Field(default_factory=HealthThresholds)
    """Warning and critical thresholds the server judges its figures by (performance panel;
    the same defaults ship as ``docs/prometheus-rules.yml``)."""

    @field_validator("shifts")
    @classmethod
    def _valid_shifts(cls, value: dict[str, str]) -> dict[str, str]:
        parse_shifts(value)
        return value

    @field_validator("shift_timezone")
    @classmethod
    def _valid_zone(cls, value: str | None) -> str | None:
        zone(value)
        return value

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / "frontdesk.sqlite3"

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> ServerConfig:
        """Settings from a TOML file; env vars win over the file, ``overrides`` over both."""
        toml_path = path

        class _WithFile(cls):  # type: ignore[valid-type,misc]  # a subclass of the caller's class
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (
                    init_settings,
                    env_settings,
                    TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
                )

        return ServerConfig.model_validate(_WithFile(**overrides).model_dump())


def default_config_file() -> Path:
    """Where ``frontdesk serve`` looks for its TOML file: ``<user config dir>/server.toml``."""
    return Path(platformdirs.user_config_dir("frontdesk")) / "server.toml"


def load_config(path: Path | None = None, **overrides: Any) -> ServerConfig:
    """The effective settings: defaults < TOML file < ``FRONTDESK_*`` env vars < ``overrides``.

    ``path`` defaults to ``default_config_file()`` and is skipped when it does not exist.
    """
    file = path if path is not None else default_config_file()
    if file.is_file():
        return ServerConfig.from_toml(file, **overrides)
    return ServerConfig(**overrides)
