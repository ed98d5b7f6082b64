"""The `frontdesk` command: serve, manage users, run the TUI, or run the demo.

This package is the one place that wires the layers together (the backend for `serve`/`user`,
the TUI for `tui`/`demo`); each command imports only what it needs, so `frontdesk serve` never
loads Textual. Errors a person can fix are one line on stderr and a non-zero exit, never a
traceback (set FRONTDESK_DEBUG=1 to see one anyway).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from frontdesk.errors import CliError

ROLES = ("staff", "manager", "admin")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the fix, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _data_dir(parser: argparse.ArgumentParser, what: str = "the server's database") -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help=f"where {what} lives")


def _store(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` (SQLite) or ``--database-url`` (PostgreSQL) of the server's store."""
    _data_dir(parser)
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="postgresql://USER@HOST:PORT/DB instead of SQLite in --data-dir"
        " (env FRONTDESK_DATABASE_URL)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag; `frontdesk --help` lists them."""
    parser = _Parser(
        prog="frontdesk",
        description="Guest requests for hotel front desks: live, and working through outages.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    serve = commands.add_parser("serve", help="run the backend server")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8765; 0 picks one)")
    _store(serve)
    serve.add_argument("--config", type=Path, default=None, help="TOML settings file")
    serve.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate for TLS")
    serve.add_argument("--tls-key", type=Path, default=None, help="PEM private key for TLS")

    config = commands.add_parser("config", help="show the server's effective settings")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION")
    config_commands.required = True
    show = config_commands.add_parser("show", help="print the effective settings (no secrets)")
    show.add_argument("--tui", action="store_true", help="the TUI's settings, not the server's")
    show.add_argument("--config", type=Path, default=None, help="TOML settings file")
    _store(show)

    user = commands.add_parser("user", help="manage user accounts (admin)")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION")
    user_commands.required = True
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _store(add)
    _store(user_commands.add_parser("list", help="list users, roles and whether disabled"))
    passwd = user_commands.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    _store(passwd)
    for action, text in (
        ("disable", "stop a user signing in and close their sessions"),
        ("enable", "let a disabled user sign in again"),
        ("revoke", "revoke every token of a user (open terminals must sign in again)"),
    ):
        sub = user_commands.add_parser(action, help=text)
        sub.add_argument("name")
        _store(sub)

    backup = commands.add_parser("backup", help="copy the database safely while it serves")
    backup.add_argument("--to", type=Path, required=True, help="file to write (must not exist)")
    _store(backup)

    export = commands.add_parser("export", help="every request as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    _store(export)

    report = commands.add_parser(
        "report", help="the handover report for a period or a shift (reads the store)"
    )
    report.add_argument("--since", default=None, help="start, ISO 8601 (no zone: local time)")
    report.add_argument("--until", default=None, help="end, ISO 8601 (default: now)")
    report.add_argument(
        "--shift",
        default=None,
        help="a configured shift (night, morning, evening), current or last; instead of --since",
    )
    report.add_argument("--format", choices=("markdown", "csv", "json"), default="markdown")
    report.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    report.add_argument("--config", type=Path, default=None, help="TOML settings file")
    _store(report)

    tui = commands.add_parser("tui", help="run the terminal app against a server")
    tui.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8765")
    tui.add_argument("--user", required=True, help="your user name")
    _data_dir(tui, "the local replica")

    demo = commands.add_parser("demo", help="run the TUI against an embedded server with demo data")
    _data_dir(demo, "the demo data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve,
        "config": _config,
        "user": _user,
        "backup": _backup,
        "export": _export,
        "report": _report,
        "tui": _tui,
        "demo": _demo,
    }
    try:
        return handlers[args.command](args)
    except CliError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `frontdesk export | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("FRONTDESK_DEBUG"):
            raise
        print(f"frontdesk: unexpected error: {exc!r} (FRONTDESK_DEBUG=1 shows it)", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    from frontdesk.serve import run_server

    return run_server(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        config_file=args.config,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


def _config(args: argparse.Namespace) -> int:
    if args.tui:
        from frontdesk.tui_settings import show_tui_settings

        return show_tui_settings()
    from frontdesk.operations import show_config

    return show_config(
        config_file=args.config, data_dir=args.data_dir, database_url=args.database_url
    )


def _user(args: argparse.Namespace) -> int:
    from frontdesk import users

    return users.run(args.user_command, args)


def _backup(args: argparse.Namespace) -> int:
    from frontdesk.operations import backup_command

    return backup_command(args.data_dir, args.to, args.database_url)


def _export(args: argparse.Namespace) -> int:
    from frontdesk.operations import export_command

    return export_command(args.data_dir, args.format, args.output, args.database_url)


def _report(args: argparse.Namespace) -> int:
    from frontdesk.report import report_command

    return report_command(
        data_dir=args.data_dir,
        database_url=args.database_url,
        config_file=args.config,
        since=args.since,
        until=args.until,
        shift=args.shift,
        fmt=args.format,
        output=args.output,
    )


def _tui(args: argparse.Namespace) -> int:
    from frontdesk.client import run_tui

    return run_tui(server_url=args.server, user=args.user, data_dir=args.data_dir)


def _demo(args: argparse.Namespace) -> int:
    from frontdesk.demo import run_demo

    return run_demo(data_dir=args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
