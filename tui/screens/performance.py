"""The performance panel: the server's throughput and latencies, this terminal's sync health.

Server figures come from ``/api/v1/stats`` every 2 s, only while this screen is shown (a worker
fetches and posts a message; the handler draws). When the server cannot be asked, the panel
says since when its figures are stale instead of freezing on old numbers.

Below the panels, charts of the last hour minute by minute (textual-plotext) from the history
the server keeps, so a terminal that restarts charts the whole hour at once; and the server's
health verdicts, a breach in amber (warning) or red (critical) with its threshold beside it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Sparkline, Static
from textual_plotext import PlotextPlot

from offline.errors import ServerApiError
from offline.events import StatusChanged
from protocol.models import utcnow
from tui.messages import EngineStatusChanged, bridge
from tui.text import literal
from tui.widgets.cells import span
from tui.widgets.status_bar import StatusBar
from tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from offline.engine import Engine

HISTORY = 90
"""Samples kept per sparkline (3 minutes of server figures at one every 2 s)."""
POLL_SECONDS = 2.0


class Metric(Horizontal):
    """A name, its latest value, and a sparkline of its recent values."""

    def __init__(self, name: str, metric_id: str) -> None:
        super().__init__(id=metric_id, classes="metric")
        self.label = name
        self.samples: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="metric-name")
        yield Static("—", classes="metric-value")
        yield Sparkline([], classes="metric-spark")

    def show(self, text: str, sample: float | None = None) -> None:
        self.query_one(".metric-value", Static).update(literal(text), layout=False)
        if sample is not None:
            self.samples.append(sample)
            # All zeros would draw as full bars (Sparkline scales min..max): draw nothing then.
            self.query_one(Sparkline).data = list(self.samples) if any(self.samples) else []


class StatsArrived(Message, bubble=False):
    """The server's figures, or why there are none this time."""

    def __init__(self, stats: dict[str, Any] | None, error: str | None) -> None:
        super().__init__()
        self.stats = stats
        self.error = error


SERVER_METRICS = (
    ("Mutations/s", "mutations"),
    ("Commit p50 / p99", "commit"),
    ("Fan-out p50 / p99", "fanout"),
    ("Connections", "connections"),
    ("Stats cache hits", "cache"),
    ("Open urgent / overdue", "urgent"),
)
CLIENT_METRICS = (
    ("Connection", "connection"),
    ("Outbox depth", "outbox"),
    ("Oldest pending", "oldest"),
    ("Round trip", "rtt"),
    ("Reconnects", "reconnects"),
    ("Last synced", "synced"),
)


CHARTS = (
    ("mutations_per_s", "Mutations/s"),
    ("commit_p99_ms", "Commit p99 ms"),
    ("fanout_p99_ms", "Fan-out p99 ms"),
    ("connections", "Connections"),
    ("rtt_ms", "Round trip ms"),
)
"""The last hour's charts: the history field each one draws, and its title."""


def _figure(value: Any, unit: str) -> str:
    if not isinstance(value, int | float):
        return "—"
    text = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
    return f"{text} {unit}".rstrip() if unit != "/s" else f"{text}/s"


def health_text(health: list[dict[str, Any]], styles: dict[str, str]) -> Text:
    """The server's verdicts on one line: each figure, a breach in its level's colour with the
    threshold it crossed beside it."""
    text = Text()
    for i, item in enumerate(health):
        if i:
            text.append("  ·  ", style="dim")
        level = item.get("level")
        unit = str(item.get("unit") or "")
        text.append(f"{item.get('label')} ", style="dim")
        value = _figure(item.get("value"), unit)
        if level in ("warning", "critical"):
            limit = _figure(item.get(level), unit)
            text.append(f"{value} ({level} ≥ {limit})", style=styles[str(level)])
        else:
            text.append(value)
    return text


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, int | float) else "—"


class PerformanceScreen(Screen[None]):
    """Two panels: the server (managers) and this terminal."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="performance.back")]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._unsubscribe: Callable[[], None] = lambda: None
        self._last_stats_at: datetime | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Horizontal(id="panels"):
            with Vertical(classes="panel", id="server-panel"):
                yield Label("Server", classes="panel-title")
                yield Static("", id="server-note", classes="panel-note")
                for name, key in SERVER_METRICS:
                    yield Metric(name, f"server-{key}")
            with Vertical(classes="panel", id="client-panel"):
                yield Label("This terminal", classes="panel-title")
                yield Static("", id="client-note", classes="panel-note")
                for name, key in CLIENT_METRICS:
                    yield Metric(name, f"client-{key}")
        yield Static("", id="health")
        with Horizontal(id="charts"):
            for key, _title in CHARTS:
                yield PlotextPlot(id=f"chart-{key}", classes="chart")
        yield StatusBar(self.engine.config.user, str(self.engine.config.role.value))
        yield Footer()

    def on_mount(self) -> None:
        self.title = "frontdesk"
        self.sub_title = "Performance"
        self._unsubscribe = bridge(self.engine, self, kinds=(StatusChanged,))
        self.query_one(StatusBar).show(self.engine.status)
        self._sample_client()
        self._draw_charts([])
        self._poll()
        self.set_interval(1.0, self._sample_client)
        self.set_interval(POLL_SECONDS, self._poll)

    def on_unmount(self) -> None:
        self._unsubscribe()

    # -- this terminal -----------------------------------------------------------------------

    @on(EngineStatusChanged)
    def _status(self, message: EngineStatusChanged) -> None:
        self.query_one(StatusBar).show(message.status)

    def _sample_client(self) -> None:
        status = self.engine.status
        now = utcnow()
        self._metric("client-connection").show(status.connection)
        self._metric("client-outbox").show(f"{status.pending:,}", status.pending)
        oldest = (now - status.oldest_pending_at) if status.oldest_pending_at else None
        self._metric("client-oldest").show(
            span(oldest) if oldest else "—", oldest.total_seconds() if oldest else 0.0
        )
        self._metric("client-rtt").show(_ms(status.rtt_ms), status.rtt_ms or 0.0)
        self._metric("client-reconnects").show(str(status.reconnects))
        synced = status.last_synced_at
        self._metric("client-synced").show(span(now - synced) + " ago" if synced else "never")
        note = ""
        if status.catching_up:
            note = f"catching up: {status.catchup_done:,} rows so far"
        elif status.connection != "online" and status.reason:
            note = status.reason
        self.query_one("#client-note", Static).update(literal(note))

    # -- the server --------------------------------------------------------------------------

    def _poll(self) -> None:
        if not self.is_current:
            return  # only while shown
        config = self.engine.config
        if config.server_url is None:
            self.post_message(StatsArrived(None, "offline only: no server configured"))
            return
        self.run_worker(self._fetch(), group="stats", exclusive=True)

    async def _fetch(self) -> None:
        try:
            stats = await self.engine.fetch_stats()
        except ServerApiError as error:
            self.post_message(StatsArrived(None, str(error)))
            return
        self.post_message(StatsArrived(stats, None))

    @on(StatsArrived)
    def _stats(self, message: StatsArrived) -> None:
        note = self.query_one("#server-note", Static)
        stats = message.stats
        if stats is None:
            since = self._last_stats_at
            stale = f"stale since {since.astimezone():%H:%M:%S}: " if since else "no figures: "
            note.update(literal(stale + (message.error or "")))
            note.add_class("-stale")
            return
        self._last_stats_at = utcnow()
        note.update("")
        note.remove_class("-stale")
        rate = stats.get("mutations_per_s")
        self._metric("server-mutations").show(f"{rate or 0:,.1f}", float(rate or 0))
        for key in ("commit", "fanout"):
            figures = stats.get(f"{key}_ms") or {}
            p99 = figures.get("p99")
            self._metric(f"server-{key}").show(
                f"{_ms(figures.get('p50'))} / {_ms(p99)}",
                float(p99) if isinstance(p99, int | float) else 0.0,
            )
        connections = stats.get("connections") or 0
        self._metric("server-connections").show(str(connections), float(connections))
        hits = stats.get("cache_hit_rate")
        self._metric("server-cache").show(
            f"{hits:.0%}" if isinstance(hits, int | float) else "—",
            float(hits) if isinstance(hits, int | float) else None,
        )
        urgent, overdue = stats.get("open_urgent", 0), stats.get("overdue", 0)
        self._metric("server-urgent").show(f"{urgent} / {overdue}", float(overdue or 0))
        health = stats.get("health")
        if isinstance(health, list):
            self.query_one("#health", Static).update(health_text(health, self._level_styles()))
        history = stats.get("history")
        self._draw_charts(history if isinstance(history, list) else [])

    def _level_styles(self) -> dict[str, str]:
        """Amber and red from the app's theme, bold."""
        colours = self.app.theme_variables
        return {
            "warning": f"bold {colours.get('text-warning', 'yellow')}",
            "critical": f"bold {colours.get('text-error', 'red')}",
        }

    def _draw_charts(self, history: list[dict[str, Any]]) -> None:
        """Each chart: the last hour, x in minutes before now, gaps where a minute has none."""
        last = history[-1].get("at") if history else None
        for key, title in CHARTS:
            plot = self.query_one(f"#chart-{key}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            points = [
                ((m["at"] - last) / 60, float(m[key]))
                for m in history
                if isinstance(m.get(key), int | float)
                and isinstance(m.get("at"), int | float)
                and isinstance(last, int | float)
            ]
            if points:
                plt.plot([x for x, _ in points], [y for _, y in points], marker="braille")
                plt.title(title)
            else:
                plt.title(f"{title} (none)")
            plt.xlim(-60, 0)
            plot.refresh()

    def _metric(self, metric_id: str) -> Metric:
        return self.query_one(f"#{metric_id}", Metric)
