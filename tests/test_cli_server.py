"""`frontdesk serve` and `frontdesk user` as an operator runs them: real processes, real ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

FRONTDESK = [sys.executable, "-m", "frontdesk"]


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRONTDESK, *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def serve(tmp_path: Path):
    """Start `frontdesk serve` on a free port; yield (process, url); stop it with SIGTERM."""
    procs: list[subprocess.Popen[str]] = []

    def start(data_dir: Path = tmp_path / "server") -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [
                *FRONTDESK,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "serve.log").open("a"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server listens (or exits)
        assert "listening on " in line, (tmp_path / "serve.log").read_text()
        return proc, line.rsplit("listening on ", 1)[1].strip()

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_user_add_then_sign_in_gets_a_token(tmp_path, serve):
    data = tmp_path / "server"
    added = run(
        "user",
        "add",
        "ana",
        "--role",
        "staff",
        "--password-stdin",
        "--data-dir",
        str(data),
        stdin="s3cret pass\n",
    )
    assert added.returncode == 0, added.stderr
    _, url = serve(data)
    answer = httpx.get(f"{url}/api/v1/token", auth=("ana", "s3cret pass"), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["role"] == "staff" and answer.json()["token"]
    refused = httpx.get(f"{url}/api/v1/token", auth=("ana", "wrong"), timeout=10)
    assert refused.status_code == 401


def test_adding_the_same_user_twice_is_one_clear_line(tmp_path):
    data = str(tmp_path / "server")
    args = ("user", "add", "ana", "--role", "staff", "--password-stdin", "--data-dir", data)
    assert run(*args, stdin="pw-one\n").returncode == 0
    line = one_line_error(run(*args, stdin="pw-two\n"))
    assert line.startswith("frontdesk:") and "ana" in line


def test_serve_on_a_taken_port_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path)
        )
    line = one_line_error(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_sigterm_stops_the_server_cleanly(serve):
    proc, url = serve()
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_tui_with_a_wrong_password_is_one_clear_line(tmp_path, serve):
    data = tmp_path / "server"
    run(
        "user",
        "add",
        "ana",
        "--role",
        "staff",
        "--password-stdin",
        "--data-dir",
        str(data),
        stdin="right\n",
    )
    _, url = serve(data)
    result = run(
        "tui",
        "--server",
        url,
        "--user",
        "ana",
        "--data-dir",
        str(tmp_path / "client"),
        stdin="wrong\n",
    )
    line = one_line_error(result)
    assert line.startswith("frontdesk:") and "password" in line


def test_tui_against_an_unreachable_server_is_one_clear_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run(
        "tui",
        "--server",
        f"http://127.0.0.1:{port}",
        "--user",
        "ana",
        "--data-dir",
        str(tmp_path),
        stdin="pass-word\n",
    )
    line = one_line_error(result)
    assert "reach" in line


def test_operators_manage_accounts_back_up_and_export_from_the_command_line(tmp_path):
    data = str(tmp_path / "server")
    run(
        "user",
        "add",
        "ana",
        "--role",
        "staff",
        "--password-stdin",
        "--data-dir",
        data,
        stdin="pass-word\n",
    )
    run(
        "user",
        "add",
        "meg",
        "--role",
        "manager",
        "--password-stdin",
        "--data-dir",
        data,
        stdin="pass-word\n",
    )
    listing = run("user", "list", "--data-dir", data)
    assert listing.returncode == 0
    assert "ana" in listing.stdout and "manager" in listing.stdout
    assert run("user", "disable", "ana", "--data-dir", data).returncode == 0
    assert "disabled" in run("user", "list", "--data-dir", data).stdout
    assert (
        run(
            "user", "passwd", "meg", "--password-stdin", "--data-dir", data, stdin="new-pass\n"
        ).returncode
        == 0
    )
    assert run("user", "revoke", "meg", "--data-dir", data).returncode == 0
    assert "nobody" in one_line_error(run("user", "revoke", "nobody", "--data-dir", data))

    backup = tmp_path / "copy.sqlite3"
    assert run("backup", "--to", str(backup), "--data-dir", data).returncode == 0
    assert backup.stat().st_size > 0
    assert one_line_error(run("backup", "--to", str(backup), "--data-dir", data))

    export = run("export", "--format", "csv", "--data-dir", data)
    assert export.returncode == 0 and export.stdout.splitlines()[0].startswith("number,id,")


def test_config_show_prints_the_effective_settings(tmp_path):
    settings = tmp_path / "server.toml"
    settings.write_text("port = 9123\n", encoding="utf-8")
    shown = run("config", "show", "--config", str(settings), "--data-dir", str(tmp_path))
    assert shown.returncode == 0
    assert '"port": 9123' in shown.stdout
    assert "no settings file" in one_line_error(
        run("config", "show", "--config", str(tmp_path / "nope.toml"))
    )
