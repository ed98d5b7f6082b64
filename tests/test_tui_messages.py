"""A burst of engine events reaches a screen as few messages as its queue allows, and nothing
in the burst is lost: every changed row is redrawn, every alert is counted."""

from __future__ import annotations

from conftest import SIZE, offline_app, ready, table_text
from helpers import wait_for
from textual import on
from textual.app import App

from offline.engine import Engine, EngineConfig
from offline.events import ViewChanged
from protocol.models import Role
from tui.messages import Batch, RowsChanged, bridge


def test_a_batch_asks_for_one_message_until_its_handler_takes_everything():
    batch: Batch[str] = Batch()
    assert batch.add(["a"]) is True  # the first event posts a message
    assert batch.add(["b", "c"]) is False  # later ones join it while it waits
    assert batch.take() == ["a", "b", "c"]
    assert batch.take() == []
    assert batch.add(["d"]) is True  # taken: the next event posts again


class RowsSeen(App[None]):
    """Collects the ids the RowsChanged messages it gets carry."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.ids: set[str] = set()

    def on_mount(self) -> None:
        self.unsubscribe = bridge(self.engine, self, kinds=(ViewChanged,))

    @on(RowsChanged)
    def _rows(self, message: RowsChanged) -> None:
        self.ids |= message.take_ids()


async def test_a_burst_of_changes_reaches_the_screen_whole(tmp_path):
    engine = await Engine.open(EngineConfig(data_dir=tmp_path / "ann", user="ann", role=Role.STAFF))
    app = RowsSeen(engine)
    try:
        async with app.run_test():
            made = [
                await engine.create_request(
                    room=str(100 + i), category="other", description="x", priority="low"
                )
                for i in range(30)
            ]
            ids = {r.id for r in made}
            await wait_for(lambda: app.ids >= ids, message=f"{len(ids - app.ids)} ids lost")
    finally:
        await engine.close()


async def test_every_request_of_a_quick_burst_is_drawn_in_the_queue(tmp_path):
    app = offline_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None
        for i in range(25):
            await app.engine.create_request(
                room=f"9{i:02d}", category="other", description="burst", priority="low"
            )
        await wait_for(
            lambda: sum("burst" in line for line in table_text(app)) == 25,
            message="\n".join(table_text(app)),
        )
