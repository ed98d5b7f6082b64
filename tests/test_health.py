"""Health thresholds and the last hour: the server judges its figures against configurable
warning and critical thresholds, keeps a per-minute history the performance panel charts, and
ships the same thresholds as Prometheus alerting rules that ``promtool`` accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import make_config, start_server
from helpers import connect_as, token_for, wait_for

from backend.health import prometheus_rules
from backend.metrics import MinuteHistory
from backend.thresholds import HealthThresholds, Threshold

RULES = Path(__file__).resolve().parent.parent / "docs" / "prometheus-rules.yml"


def test_the_rules_file_has_the_server_s_own_thresholds_and_promtool_accepts_it():
    assert RULES.read_text(encoding="utf-8") == prometheus_rules(), (
        "regenerate: python -m backend.health > docs/prometheus-rules.yml"
    )
    assert "frontdesk_commit_seconds_bucket[5m]" in RULES.read_text(encoding="utf-8")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "10 rules found" in checked.stdout


def test_a_threshold_is_amber_from_warning_and_red_from_critical():
    limit = Threshold(warning=50, critical=250)
    assert [limit.level(v) for v in (None, 49.9, 50, 249, 250)] == [
        "unknown",
        "ok",
        "warning",
        "warning",
        "critical",
    ]
    with pytest.raises(ValueError, match="warning must not be above critical"):
        Threshold(warning=3, critical=2)


def test_the_minute_history_keeps_one_hour_and_rates_the_running_minute():
    now = [3600.0 * 100]
    history = MinuteHistory(clock=lambda: now[0])
    for minute in range(70):
        history.committed(0.002 * (minute + 1), 60)
        history.sample(minute, {"term-a": 10.0 + minute})
        now[0] += 60
    now[0] += 30  # half-way into a new minute
    history.committed(0.001, 15)
    wire = history.wire("term-a")
    assert len(wire) == 61  # 60 finished minutes and the running one
    assert wire[0]["at"] == 3600 * 100 + 10 * 60  # the first ten fell out
    assert wire[0]["mutations_per_s"] == 1.0 and wire[0]["commit_p99_ms"] == 22.0
    assert wire[0]["connections"] == 10 and wire[0]["rtt_ms"] == 20.0
    assert wire[-1]["mutations_per_s"] == 0.5  # 15 in its first 30 s
    assert wire[-1]["rtt_ms"] is None
    assert history.wire()[0].get("rtt_ms") is None


async def test_stats_judge_the_thresholds_and_chart_the_hour(tmp_path):
    thresholds = HealthThresholds(
        connections=Threshold(warning=1, critical=5),
        commit_p99_ms=Threshold(warning=10_000, critical=20_000),
    )
    server = await start_server(make_config(tmp_path, health=thresholds, ping_interval=0.2))
    try:
        ann = await connect_as(server, "ann")
        await ann.create()
        manager = await token_for(server, "meg", "meg-pass")
        headers = {"Authorization": f"Bearer {manager}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

            async def stats() -> dict:
                answer = await http.get(
                    "/api/v1/stats", params={"client_id": ann.client_id}, headers=headers
                )
                assert answer.status_code == 200
                return answer.json()

            last: dict = {}

            async def rtt_charted() -> bool:
                last.update(await stats())
                return last["history"][-1].get("rtt_ms") is not None

            await wait_for(rtt_charted, timeout=20, message="no round trip in the history")
        health = {h["name"]: h for h in last["health"]}
        assert set(health) == {
            "commit_p99_ms",
            "fanout_p99_ms",
            "error_rate",
            "connections",
            "memory_mb",
        }
        assert health["connections"] == {
            "name": "connections",
            "label": "Connections",
            "unit": "",
            "value": 1.0,
            "warning": 1.0,
            "critical": 5.0,
            "level": "warning",
        }
        assert health["commit_p99_ms"]["level"] == "ok"
        assert health["memory_mb"]["value"] > 10
        minute = last["history"][-1]
        assert minute["connections"] >= 1 and minute["commit_p99_ms"] is not None
        assert minute["rtt_ms"] > 0
        await ann.close()
    finally:
        await server.close()
