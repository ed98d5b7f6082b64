"""Where frontdesk keeps its data by default (platformdirs: ~/.local/share/frontdesk on Linux)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_data_path


def data_root() -> Path:
    """The user's frontdesk data directory."""
    return user_data_path("frontdesk", appauthor=False)


def server_data_dir() -> Path:
    """Default database directory of `frontdesk serve`."""
    return data_root() / "server"


def demo_dir() -> Path:
    """Where `make demo` keeps its server database and client replica between runs."""
    return data_root() / "demo"


def client_data_dir(server_url: str, user: str) -> Path:
    """One replica per server and user, so two accounts on one terminal never mix outboxes."""
    netloc = urlsplit(server_url).netloc or server_url
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", netloc)
    return data_root() / "clients" / slug / re.sub(r"[^A-Za-z0-9._@-]+", "_", user)
