"""``frontdesk report`` refuses a bad period in one line with a non-zero exit, before it opens
any store (the figures themselves are checked on both stores in test_server_report.py)."""

from __future__ import annotations

import pytest

from frontdesk.cli import main

BAD_CLI_PERIODS = [
    (("--since", "2026-01-11T07:00:00Z", "--until", "2026-01-10T23:00:00Z"), "until must be"),
    (("--since", "yesterday"), "since is not a time"),
    (("--since", "2024-01-01", "--until", "2026-01-01"), "at most a year"),
    (("--shift", "noon"), "no shift 'noon'"),
    (("--shift", "night", "--since", "2026-01-10T23:00:00Z"), "not both"),
    ((), "give since"),
    (("--since", "2026-01-10T23:00:00Z", "--format", "pdf"), "invalid choice"),
]


@pytest.mark.parametrize(("args", "reason"), BAD_CLI_PERIODS)
def test_the_cli_refuses_a_bad_period_in_one_line(tmp_path, capsys, args, reason):
    try:
        code = main(["report", "--data-dir", str(tmp_path / "none"), *args])
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], err
    assert out == ""


def test_a_missing_database_is_one_line_too(tmp_path, capsys):
    code = main(["report", "--data-dir", str(tmp_path / "none"), "--shift", "last"])
    _out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == f"frontdesk: no frontdesk database in {tmp_path / 'none'}"
    assert not (tmp_path / "none").exists()
