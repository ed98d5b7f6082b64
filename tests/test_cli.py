"""The `frontdesk` command speaks in one clear line when something is wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest

FRONTDESK = [sys.executable, "-m", "frontdesk"]


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRONTDESK, *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "user", "tui", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--bogus"),
        ("serve", "--port", "eighty"),
        ("user", "add", "ann", "--role", "king"),
        ("tui", "--server", "http://127.0.0.1:9"),
        ("launch",),
    ],
)
def test_a_bad_flag_is_one_line_and_a_non_zero_exit(args):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("frontdesk") and "--help" in lines[0]
    assert "Traceback" not in result.stderr
