"""`make screenshots`: SVGs of every screen, from the real app against a real server.

A throwaway server is seeded with the demo data, the TUI signs in as the demo manager and is
driven headless through Pilot, screen by screen. Run: `python -m frontdesk.screenshots DIR`.
A scene that needs history before the app opens (the conflicts scene: edits that clashed while
this terminal was offline) prepares its replica first, through real engines and the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot

from backend.app import FrontdeskServer
from backend.config import ServerConfig
from backend.demo import issue_token, seed_demo_data
from offline.engine import Engine, EngineConfig
from protocol.models import Request, Role, utcnow
from tui.app import FrontdeskApp
from tui.screens.handover import HandoverScreen
from tui.screens.request_form import RequestForm

SIZE = (140, 42)
SMALL = (80, 24)
"""The size of many front-desk terminal windows: some scenes are also taken at it."""
OTHER_CLERK = "ana"
"""The demo staff member whose edits clash with the demo manager's in the conflicts scene."""
Scene = Callable[[Pilot[int], FrontdeskServer], Awaitable[None]]
Prepare = Callable[[EngineConfig, str], Awaitable[EngineConfig]]
"""Before the app opens: given its config and the other clerk's token, returns the config."""


async def until(pilot: Pilot[int], condition: Callable[[], bool]) -> None:
    """Let the app run until ``condition`` holds (a screenshot of a half-loaded screen is a lie)."""
    async with asyncio.timeout(15):
        while not condition():
            await pilot.pause(0.05)


async def settled(engine: Engine, condition: Callable[[], bool]) -> None:
    """Wait (outside any app) until ``condition`` holds, checking at each engine event."""
    changed = asyncio.Event()
    unsubscribe = engine.subscribe(lambda _event: changed.set())
    try:
        async with asyncio.timeout(30):
            while True:
                changed.clear()
                if condition():
                    return
                await changed.wait()
    finally:
        unsubscribe()


async def _synced(config: EngineConfig) -> Engine:
    engine = await Engine.open(config)
    await engine.start()
    await settled(
        engine, lambda: engine.status.connection == "online" and not engine.status.catching_up
    )
    return engine


async def clashing_edits(config: EngineConfig, other_token: str) -> EngineConfig:
    """Two parked conflicts, made the way they happen: this terminal, offline, takes one
    request and rewrites another; meanwhile the other clerk, online, assigns the first to
    herself and rewrites the second. On connecting, the server refuses this terminal's edits
    (``conflict``), and ``manual`` (the default for assignees, chosen here for descriptive
    fields) parks them, mine and theirs per field."""
    engine = await _synced(config)
    open_rows = sorted(
        (r for r in engine.requests() if r.is_open and r.assignee != OTHER_CLERK),
        key=lambda r: r.created_at,
        reverse=True,
    )
    taken, rewritten = open_rows[0], open_rows[1]
    await engine.close()

    other = await _synced(
        EngineConfig(
            data_dir=Path(config.data_dir).parent / f"{OTHER_CLERK}-conflict",
            user=OTHER_CLERK,
            role=Role.STAFF,
            server_url=config.server_url,
            token=other_token,
        )
    )
    await other.assign(taken.id, OTHER_CLERK)
    await other.update_request(rewritten.id, _rewrite(rewritten, "getting worse", "urgent"))
    await settled(other, lambda: other.status.pending == 0)
    await other.close()

    offline = await Engine.open(dataclasses.replace(config, server_url=None))
    await offline.assign(taken.id, config.user)
    await offline.update_request(rewritten.id, _rewrite(rewritten, "guest out until 18:00", "low"))
    await offline.close()
    return dataclasses.replace(config, conflict_strategies={"descriptive": "manual"})


def _rewrite(request: Request, words: str, priority: str) -> dict[str, str]:
    return {"description": f"{request.description}: {words}", "priority": priority}


def _app(pilot: Pilot[int]) -> FrontdeskApp:
    """The app under test as the FrontdeskApp it is (a Pilot knows it only as an App)."""
    app = pilot.app
    assert isinstance(app, FrontdeskApp)
    return app


def _engine(pilot: Pilot[int]) -> Engine:
    engine = _app(pilot).engine
    assert engine is not None, "scenes run once the app is online"
    return engine


def _status(pilot: Pilot[int]) -> str:
    engine = _app(pilot).engine
    return engine.status.connection if engine is not None else ""


async def queue(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("1")


async def detail(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("1", "down", "down", "enter")


async def form(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("n")
    await pilot.press(*"1204")


async def form_with_due_time(pilot: Pilot[int], server: FrontdeskServer) -> None:
    """A wake-up call for 06:00: the form reads the due time back beside the field."""
    await pilot.press("n", *"1204", "tab", *"Wake-up call, two knocks", "tab", "tab", "tab")
    await pilot.press(*"06:00")

    def read_back() -> bool:
        form = pilot.app.screen
        return isinstance(form, RequestForm) and "06:00" in str(
            form.query_one("#due_at-hint").render()
        )

    await until(pilot, read_back)


async def triage(pilot: Pilot[int], server: FrontdeskServer) -> None:
    """A clerk logs a leak the desk already has open: the suggestion and the duplicate show."""
    engine = _engine(pilot)
    await until(pilot, lambda: any(r.is_open and r.number for r in engine.requests()))
    repairs = [
        r for r in engine.requests() if r.is_open and r.number and r.category.value == "maintenance"
    ]
    leaks = [r for r in repairs if "leak" in r.description.casefold()]
    target = max(leaks or repairs, key=lambda r: r.created_at)
    await engine.triage().settled()
    await pilot.press("n", *target.room, "tab", *f"{target.description.lower()} again")

    def warned() -> bool:
        form = pilot.app.screen
        return isinstance(form, RequestForm) and "Looks like" in form.duplicate_warning()

    await until(pilot, warned)


async def urgent(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("6")


async def performance(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("P")
    await pilot.pause(6.0)  # polls of /api/v1/stats and one health sample: real figures


async def handover(pilot: Pilot[int], server: FrontdeskServer) -> None:
    """The last eight hours of the demo shift, as the handover screen shows a shift."""
    now = utcnow()
    screen = HandoverScreen(_engine(pilot), period=(now - timedelta(hours=8), now))
    await _app(pilot).push_screen(screen)
    await until(pilot, lambda: screen.report is not None)


async def conflicts(pilot: Pilot[int], server: FrontdeskServer) -> None:
    engine = _engine(pilot)
    await until(pilot, lambda: len(engine.conflicts()) == 2)
    await pilot.press("C")


async def help_screen(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await pilot.press("question_mark")


async def alerts(pilot: Pilot[int], server: FrontdeskServer) -> None:
    """The demo's night: the SLA job's breaches and escalations, the urgent requests, open
    oldest first; two acknowledged here (marked, then ``a``) to show who and how long."""
    app = _app(pilot)
    await until(pilot, lambda: app.alert_count >= 3)
    await pilot.press("b", "space", "space", "a")
    await until(pilot, lambda: len(_engine(pilot).alerts()) > app.alert_count)
    await pilot.press("home")


async def offline(pilot: Pilot[int], server: FrontdeskServer) -> None:
    await server.close()
    await until(pilot, lambda: _status(pilot) == "offline")
    await pilot.press("1", "n", *"817", "tab", *"Leak under the sink", "ctrl+s")
    await until(pilot, lambda: _engine(pilot).status.pending >= 1)


SCENES: dict[str, Scene] = {
    "queue": queue,
    "detail": detail,
    "form": form,
    "triage": triage,
    "urgent": urgent,
    "performance": performance,
    "handover": handover,
    "conflicts": conflicts,
    "help": help_screen,
    "alerts": alerts,
    "alerts-80x24": alerts,
    "queue-80x24": queue,
    "triage-80x24": triage,
    "form-due-80x24": form_with_due_time,
    "offline": offline,  # last: it stops the server
}
PREPARE: dict[str, Prepare] = {"conflicts": clashing_edits}
SIZES: dict[str, tuple[int, int]] = {
    "queue-80x24": SMALL,
    "triage-80x24": SMALL,
    "form-due-80x24": SMALL,
    "alerts-80x24": SMALL,
}
"""Scenes taken at another size than ``SIZE``."""


async def capture(out_dir: Path, names: list[str]) -> list[Path]:
    """Capture each named scene in a fresh app; return the files written."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="frontdesk-shots-") as tmp:
        server_dir = Path(tmp) / "server"
        await seed_demo_data(server_dir)
        token = str((await issue_token(server_dir, "demo"))["token"])
        other_token = str((await issue_token(server_dir, OTHER_CLERK))["token"])
        server = FrontdeskServer(ServerConfig(host="127.0.0.1", port=0, data_dir=server_dir))
        await server.start()
        try:
            for index, name in enumerate(names):
                client_dir = Path(tmp) / f"client-{index}"
                config = EngineConfig(
                    data_dir=client_dir,
                    user="demo",
                    role=Role.MANAGER,
                    server_url=server.url,
                    token=token,
                )
                if name in PREPARE:
                    config = await PREPARE[name](config, other_token)
                app = FrontdeskApp(config, bell=False)
                async with app.run_test(size=SIZES.get(name, SIZE)) as pilot:
                    await until(pilot, lambda: _status(pilot) == "online")
                    await SCENES[name](pilot, server)
                    await pilot.pause(0.3)
                    path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out_dir)))
                    written.append(path)
        finally:
            await server.close()
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path("screenshots")
    names = argv[1:] or list(SCENES)
    unknown = [n for n in names if n not in SCENES]
    if unknown:
        print(f"screenshots: unknown scene {unknown[0]!r}; known: {', '.join(SCENES)}")
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(capture(out_dir, names)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
