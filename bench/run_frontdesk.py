"""Run the frontdesk server for a benchmark, in its own process, optionally under a profiler.

    python -m bench.run_frontdesk --data-dir DIR [--database-url postgresql://…]

Does what ``frontdesk serve`` does (``FrontdeskServer(ServerConfig)``, one ``listening on``
line on stdout, graceful close on SIGTERM) and first makes the bench's manager account (on
PostgreSQL the first instance makes it and the others find it there). It
exists so that ``python -m bench --profile`` can run the whole server under cProfile and
write the hottest functions when it stops; the CLI has no such switch, nor should it.
The bench's listeners all sign in as one user, so the environment lifts
``FRONTDESK_MAX_CONNECTIONS_PER_USER`` (bench.servers); everything else is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from backend.accounts import add_user
from backend.app import FrontdeskServer
from backend.config import ServerConfig
from bench.harness import profiled, raise_nofile

USER = "bench"
PASSWORD = "bench-pass-1234"


async def serve(data_dir: Path, database_url: str | None = None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / ".bench-user"
    if database_url:
        with contextlib.suppress(ValueError):  # another instance made it already
            await add_user(None, USER, "manager", PASSWORD, database_url)
    elif not marker.exists():
        await add_user(data_dir, USER, "manager", PASSWORD)
        marker.touch()
    config = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, database_url=database_url)
    server = FrontdeskServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"frontdesk: listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite")
    ns = parser.parse_args()
    raise_nofile()
    profiled(
        f"server-{ns.data_dir.name}",
        lambda: asyncio.run(serve(ns.data_dir, ns.database_url)),
    )


if __name__ == "__main__":
    main()
