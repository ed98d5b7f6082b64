"""The TUI under a stopwatch, headless, in its own process (the server is another process).

    python -m bench.tui_tasks frontdesk --server URL --token T --data-dir DIR ...
    python -m bench.tui_tasks datatable --rows 20000
    python -m bench.tui_tasks empty

"Painted" means: Textual's compositor produced a screen update and it was turned into the
terminal byte string a real terminal would get (``render_segments``; headless mode skips only
the final write). A ``PaintProbe`` hooks ``App._display`` and resolves waiters whose condition
holds at the first paint after it became true, so a figure is "event → first paint showing it".

``frontdesk``: the real ``FrontdeskApp`` on a replica already holding N rows, connected to a
server: first paint (from constructing the app, engine open included), filter keystrokes,
live changes made by another process (``bench.loadgen poke``), key presses that change a
row's status (the outbox commit included), and the process RSS.
``datatable``: the baseline, Textual's ``DataTable`` with the same columns and similar rows,
filtered by rebuilding and changed with ``update_cell``. ``empty``: the floor, a Textual app
showing one ``Static``. One JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from bench.harness import PYTHON, bench_env, percentile, profiled, rss_kib

SIZE = (160, 50)


class GcPauses:
    """Durations of the cyclic garbage collector's runs, by generation (a pause the UI feels)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.spans: list[tuple[int, float, float]] = []
        """(generation, start, end) of each run, perf_counter seconds: to attribute slow events."""
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            end = time.perf_counter()
            self.pauses[info["generation"]].append((end - self.started) * 1000)
            self.spans.append((info["generation"], self.started, end))

    def phases(self, marks: list[tuple[str, float]]) -> list[tuple[str, int, float]]:
        """(phase, generation, ms) of each gen1/gen2 run: the phase that began last before it."""
        out: list[tuple[str, int, float]] = []
        for generation, a, b in self.spans:
            if generation == 0:
                continue
            phase = next((name for name, at in reversed(marks) if at <= a), "start")
            out.append((phase, generation, round((b - a) * 1000, 2)))
        return out

    def within(self, start: float, end: float) -> dict[str, float]:
        """Milliseconds of collector runs per generation between ``start`` and ``end``."""
        out: dict[str, float] = {}
        for generation, a, b in self.spans:
            if a < end and b > start:
                key = f"gen{generation}_ms"
                out[key] = round(out.get(key, 0.0) + (min(b, end) - max(a, start)) * 1000, 2)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{g}": {"count": len(p), "max_ms": max(p) if p else 0.0, "total_ms": sum(p)}
            for g, p in self.pauses.items()
        }


class PaintProbe:
    """Waiters resolved with the time of the first paint at which their condition holds."""

    def __init__(self) -> None:
        self.waiters: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        self.paints = 0

    def when(self, condition: Callable[[], bool]) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append((condition, future))
        return future

    def painted(self) -> None:
        now = time.perf_counter()
        self.paints += 1
        for waiter in list(self.waiters):
            condition, future = waiter
            try:
                ok = condition()
            except Exception:
                ok = False
            if ok:
                self.waiters.remove(waiter)
                if not future.done():
                    future.set_result(now)


def measured(cls: type[App]) -> type[App]:
    """``cls`` with a paint probe on ``_display`` (the one place a frame leaves the app)."""

    class Measured(cls):  # type: ignore[valid-type,misc]
        probe = PaintProbe()
        CSS_PATH = _absolute_css(cls)

        def _display(self, screen, renderable) -> None:  # type: ignore[override]
            skip = renderable is None or self._batch_count
            super()._display(screen, renderable)
            if skip:
                return
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(self.console)  # what a real terminal would be sent
            self.probe.painted()

    return Measured


def _absolute_css(cls: type[App]) -> Any:
    """Textual resolves CSS_PATH next to the subclass's file; keep the original's instead."""
    paths = getattr(cls, "CSS_PATH", None)
    if paths is None:
        return None
    base = Path(inspect.getfile(cls)).parent
    if isinstance(paths, (str, Path)):
        return str(base / paths)
    return [str(base / p) for p in paths]


async def _wait(future: asyncio.Future[float], timeout: float) -> float | None:
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        return None


def _summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "max": max(samples),
    }


def _description(screen: Any, request_id: str) -> str:
    request = screen.model.get(request_id)
    return request.description if request is not None else ""


def _key(ch: str) -> str:
    return {" ": "space", "/": "slash", ":": "colon"}.get(ch, ch)


# frontdesk -------------------------------------------------------------------------------------


async def frontdesk(ns: argparse.Namespace) -> dict[str, Any]:
    from offline.engine import Engine, EngineConfig
    from offline.events import EngineEvent, ViewChanged
    from protocol.models import Role
    from tui.app import FrontdeskApp
    from tui.screens.queue import QueueScreen

    opened: dict[str, float] = {}
    original_open = Engine.open.__func__  # type: ignore[attr-defined]

    async def timed_open(cls, config, **options):  # measure Engine.open inside first paint
        t = time.perf_counter()
        engine = await original_open(cls, config, **options)
        opened["s"] = time.perf_counter() - t
        return engine

    Engine.open = classmethod(timed_open)  # type: ignore[method-assign]
    config = EngineConfig(
        data_dir=ns.data_dir, user=ns.user, role=Role.MANAGER, server_url=ns.server, token=ns.token
    )
    t0 = time.perf_counter()
    app = measured(FrontdeskApp)(config, bell=False)
    probe: PaintProbe = app.probe

    def queue() -> QueueScreen:
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        return screen

    first = probe.when(lambda: isinstance(app.screen, QueueScreen) and len(app.screen.model) > 0)
    out: dict[str, Any] = {}
    gc_pauses = GcPauses()
    marks: list[tuple[str, float]] = [("open", time.perf_counter())]
    async with app.run_test(size=SIZE, headless=True) as pilot:
        t_first = await _wait(first, 120)
        out["first_paint_ms"] = (t_first - t0) * 1000 if t_first else None
        out["engine_open_s"] = opened.get("s")
        out["rows"] = len(queue().model.requests)
        out["rss_after_first_paint_kib"] = rss_kib(os.getpid())
        marks.append(("load+sync", time.perf_counter()))
        engine = app.engine
        assert engine is not None

        # Online and caught up, so live changes flow.
        ready = asyncio.Event()

        def on_status(_: EngineEvent) -> None:
            status = engine.status
            if status.connection == "online" and not status.catching_up:
                ready.set()

        unsubscribe = engine.subscribe(on_status)
        on_status(None)  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(60):
                await ready.wait()
        finally:
            unsubscribe()
        out["rows"] = len(engine.requests())  # the whole replica (first paint may show fewer)

        # Filter: each keystroke until the first paint with the new query applied.
        marks.append(("filter", time.perf_counter()))
        filter_ms: list[float] = []
        filter_spans: list[tuple[float, float, float]] = []
        for _ in range(ns.filter_reps):
            await pilot.press("slash")
            await pilot.pause()
            typed = ""
            for ch in ns.filter:
                typed += ch
                expect = typed.casefold()
                done = probe.when(lambda expect=expect: queue().model.query == expect)
                t = time.perf_counter()
                await pilot.press(_key(ch))
                t_paint = await _wait(done, 10)
                if t_paint is not None:
                    filter_ms.append((t_paint - t) * 1000)
                    filter_spans.append(((t_paint - t) * 1000, t, t_paint))
            cleared = probe.when(lambda: queue().model.query == "")
            await pilot.press("escape")
            await _wait(cleared, 10)
            await pilot.press("escape")
            await pilot.pause()
        out["filter_ms"] = _summary(filter_ms)
        out["filter_slowest"] = [
            {"ms": round(ms, 2), **gc_pauses.within(a, b)}
            for ms, a, b in sorted(filter_spans, reverse=True)[:3]
        ]  # the collector's share of the slowest keystrokes

        # Live changes from another process: its send, the engine's event, the first paint.
        arrived: dict[str, float] = {}

        def on_view(event: EngineEvent) -> None:
            if isinstance(event, ViewChanged):
                now = time.perf_counter()
                for rid in event.ids:
                    arrived.setdefault(rid, now)

        unsubscribe = engine.subscribe(on_view)
        marks.append(("live", time.perf_counter()))
        poke = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bench.loadgen", "poke", "--url", ns.ws_url, f"--token={ns.token}",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=bench_env(),
        )  # fmt: skip
        assert poke.stdin and poke.stdout
        await poke.stdout.readline()  # "ready"
        live_ms: list[float] = []
        e2e_ms: list[float] = []
        for k in range(ns.changes):
            ids = queue().model.ids
            rid = ids[k % min(10, len(ids))]
            current = engine.get(rid)
            assert current is not None
            text = f"Live change {k} {uuid.uuid4().hex[:8]}"
            arrived.pop(rid, None)
            shown = probe.when(
                lambda rid=rid, text=text: (
                    getattr(queue().model.get(rid), "description", "") == text
                )
            )
            poke.stdin.write(f"{rid} {current.version} {text}\n".encode())
            await poke.stdin.drain()
            sent = float((await poke.stdout.readline()).decode().split()[1])
            t_paint = await _wait(shown, 10)
            if t_paint is not None:
                e2e_ms.append((t_paint - sent) * 1000)
                if rid in arrived:
                    live_ms.append((t_paint - arrived[rid]) * 1000)
            await asyncio.sleep(0.02)  # pacing between changes, bounded by ns.changes
        poke.stdin.close()
        await asyncio.wait_for(poke.wait(), 30)
        unsubscribe()
        out["live_ms"] = _summary(live_ms)
        out["live_e2e_ms"] = _summary(e2e_ms)

        # Key press → row on screen, the outbox write included (acknowledge a pending row).
        press_ms: list[float] = []
        press_spans: list[tuple[float, float, float]] = []
        marks.append(("press", time.perf_counter()))
        await pilot.press("home")
        await pilot.pause()
        table = queue().table
        moves = 0
        while len(press_ms) < ns.presses and moves < ns.presses * 5:
            request = table.cursor_request
            if request is None or request.status != "pending":
                await pilot.press("down")
                moves += 1
                continue
            rid = request.id
            done = probe.when(
                lambda rid=rid: getattr(queue().model.get(rid), "status", "") == "acknowledged"
            )
            t = time.perf_counter()
            await pilot.press("a")
            t_paint = await _wait(done, 10)
            if t_paint is not None:
                press_ms.append((t_paint - t) * 1000)
                press_spans.append(((t_paint - t) * 1000, t, t_paint))
            await pilot.press("down")
            moves += 1
        out["press_ms"] = _summary(press_ms)
        out["press_samples_ms"] = [round(x, 2) for x in press_ms]
        out["press_slowest"] = [
            {"ms": round(ms, 2), **gc_pauses.within(a, b)}
            for ms, a, b in sorted(press_spans, reverse=True)[:3]
        ]  # the collector's share of the slowest presses
        out["gc"] = gc_pauses.summary()
        out["gc_big_runs"] = gc_pauses.phases(marks)  # which phase each gen1/gen2 run fell in
        out["rss_kib"] = rss_kib(os.getpid())
        out["paints"] = probe.paints
    return out


# datatable baseline ----------------------------------------------------------------------------

COLUMNS = ("#", "Room", "Category", "Priority", "Status", "Assignee", "SLA/age", "Description")


def _rows(count: int) -> list[tuple[str, ...]]:
    cats = ("housekeeping", "maintenance", "room_service", "concierge", "front_desk", "other")
    return [
        (
            str(n),
            str(100 + n % 900),
            cats[n % 6],
            "normal",
            "pending",
            "—",
            "59m",
            f"Bench row {n:06d}: two extra towels and a toothbrush kit, please",
        )
        for n in range(1, count + 1)
    ]


class TableApp(App):
    """The straightforward Textual app: a DataTable holding every row."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.all_rows = rows
        self.query_text = ""
        self.applied = ""
        self.changed = -1

    def compose(self) -> ComposeResult:
        yield DataTable(id="table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(self.all_rows)
        table.focus()

    def type_filter(self, ch: str) -> None:
        """Filtering the obvious way: rebuild the table with the matching rows."""
        self.query_text += ch
        q = self.query_text.casefold()
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([r for r in self.all_rows if q in r[7].casefold() or q in r[1]])
        self.applied = self.query_text

    def live_change(self, k: int) -> None:
        table = self.query_one(DataTable)
        row_key = table.coordinate_to_cell_key((k % 10, 0)).row_key
        column_key = table.coordinate_to_cell_key((0, 7)).column_key
        table.update_cell(row_key, column_key, f"Live change {k}")
        self.changed = k


async def datatable(ns: argparse.Namespace) -> dict[str, Any]:
    rows = _rows(ns.rows)
    t0 = time.perf_counter()
    app = measured(TableApp)(rows)
    probe: PaintProbe = app.probe
    first = probe.when(lambda: app.query_one(DataTable).row_count > 0)
    out: dict[str, Any] = {"rows": ns.rows}
    async with app.run_test(size=SIZE, headless=True) as pilot:
        t_first = await _wait(first, ns.cap)
        out["first_paint_ms"] = (t_first - t0) * 1000 if t_first else None
        out["rss_after_first_paint_kib"] = rss_kib(os.getpid())
        await pilot.pause()
        filter_ms: list[float] = []
        for ch in ns.filter[:2]:  # each rebuild takes seconds: two keystrokes tell the story
            expect = app.query_text + ch
            done = probe.when(lambda expect=expect: app.applied == expect)
            t = time.perf_counter()
            app.call_later(app.type_filter, ch)
            t_paint = await _wait(done, ns.cap)
            if t_paint is not None:
                filter_ms.append((t_paint - t) * 1000)
        out["filter_ms"] = _summary(filter_ms)
        live_ms: list[float] = []
        for k in range(ns.changes):
            done = probe.when(lambda k=k: app.changed == k)
            t = time.perf_counter()
            app.call_later(app.live_change, k)
            t_paint = await _wait(done, 10)
            if t_paint is not None:
                live_ms.append((t_paint - t) * 1000)
        out["live_ms"] = _summary(live_ms)
        out["rss_kib"] = rss_kib(os.getpid())
    return out


class EmptyApp(App):
    """The floor: a Textual app showing one line of text."""

    def compose(self) -> ComposeResult:
        yield Static("Bench row 000001: the least a Textual app can paint")


async def empty(ns: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    app = measured(EmptyApp)()
    first = app.probe.when(lambda: True)
    async with app.run_test(size=SIZE, headless=True):
        t_first = await _wait(first, 30)
    return {"first_paint_ms": (t_first - t0) * 1000 if t_first else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["frontdesk", "datatable", "empty"])
    parser.add_argument("--server", default=None, help="http URL of the frontdesk server")
    parser.add_argument("--ws-url", default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--user", default="bench")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--filter", default="row 0042")
    parser.add_argument("--filter-reps", type=int, default=3)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cap", type=float, default=30.0)
    ns = parser.parse_args()
    run = {"frontdesk": frontdesk, "datatable": datatable, "empty": empty}[ns.kind]
    try:
        result = profiled(f"tui-{ns.kind}", lambda: asyncio.run(run(ns)))
        print(json.dumps(result), flush=True)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)  # a worker thread left behind must not keep the process (the result is out)


if __name__ == "__main__":
    main()
