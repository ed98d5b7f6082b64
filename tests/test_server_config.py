"""Operators configure the server with a TOML file, FRONTDESK_* variables and flags."""

from __future__ import annotations

from backend.config import ServerConfig, load_config


def test_flags_beat_environment_which_beats_the_file(tmp_path, monkeypatch):
    file = tmp_path / "server.toml"
    file.write_text(
        'host = "0.0.0.0"\nport = 9000\ndata_dir = "/srv/frontdesk"\n'
        "[sla.priority_minutes]\nurgent = 10\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FRONTDESK_PORT", "9100")
    config = load_config(file, host="127.0.0.1")
    assert isinstance(config, ServerConfig)
    assert (config.host, config.port) == ("127.0.0.1", 9100)
    assert str(config.data_dir) == "/srv/frontdesk"
    assert config.sla.priority_minutes["urgent"] == 10
    assert config.token_ttl_hours == 12


def test_without_a_file_the_defaults_apply(tmp_path, monkeypatch):
    monkeypatch.delenv("FRONTDESK_PORT", raising=False)
    config = load_config(tmp_path / "missing.toml", data_dir=tmp_path)
    assert (config.host, config.port, config.allowed_origins) == ("127.0.0.1", 8765, [])
    assert config.synchronous == "NORMAL"
