"""`frontdesk serve`: run the backend until SIGTERM or Ctrl+C, then close it gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from backend.app import FrontdeskServer
from backend.config import ServerConfig, load_config
from backend.store import StoreUnavailable
from frontdesk import paths
from frontdesk.errors import CliError


def build_config(
    *,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    database_url: str | None = None,
    config_file: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> ServerConfig:
    """The server's settings: flags > FRONTDESK_* variables > the TOML file > defaults.

    The data directory falls back to the user's data directory only when no flag, variable or
    file names one.
    """
    if (tls_cert is None) != (tls_key is None):
        raise CliError("--tls-cert and --tls-key go together")
    if config_file is not None and not config_file.is_file():
        raise CliError(f"no settings file at {config_file}")
    given = {"host": host, "port": port, "data_dir": data_dir, "database_url": database_url}
    given |= {"tls_cert": tls_cert, "tls_key": tls_key}
    overrides = {key: value for key, value in given.items() if value is not None}
    try:
        try:
            return load_config(config_file, **overrides)
        except ValidationError as exc:
            if data_dir is None and any(e["loc"] == ("data_dir",) for e in exc.errors()):
                return load_config(config_file, data_dir=paths.server_data_dir(), **overrides)
            raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CliError(f"bad server setting {where}: {first['msg']}") from exc
    except ValueError as exc:
        raise CliError(f"bad server settings: {str(exc).splitlines()[0]}") from exc


def run_server(
    *,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    database_url: str | None = None,
    config_file: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> int:
    """Serve until told to stop; exit status 0 after a clean shutdown."""
    config = build_config(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        config_file=config_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    configure_logging()
    return asyncio.run(_serve(config))


def configure_logging() -> None:
    """One line per event on stderr (systemd's journal adds the time it received each line).

    FRONTDESK_LOG_LEVEL picks the level (default INFO). Tokens and passwords are never logged.
    """
    level = os.environ.get("FRONTDESK_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


async def _serve(config: ServerConfig) -> int:
    server = FrontdeskServer(config)
    try:
        await server.start()
    except StoreUnavailable as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot listen on {config.host}:{config.port}: {reason}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The one line on stdout: people read it, and the demo launcher waits for it.
    print(f"frontdesk: listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0
