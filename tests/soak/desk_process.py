"""One front-desk terminal as its own process, for the soak test to SIGKILL and restart.

``python desk_process.py DATA_DIR USER ROLE SERVER_URL TARGET SEED`` (token in the
``FRONTDESK_TOKEN`` environment variable, never on the command line) opens the engine on
DATA_DIR, makes random desk edits until the replica has used TARGET mutation numbers (so a
restarted process goes on where the killed one stopped), waits for the outbox to drain, and
exits 0. Every refusal it is told about is appended to ``DATA_DIR/events.jsonl`` as it arrives,
so the count survives a SIGKILL. Edits are paced (``PACE`` seconds apart) so that they overlap
the faults the soak injects; the run is bounded by ``DEADLINE`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from reliability_kit import Desk  # noqa: E402

from offline.engine import Engine, EngineConfig  # noqa: E402
from offline.events import ConflictParked, EngineEvent, MutationRejected  # noqa: E402
from protocol import Role  # noqa: E402

PACE = 0.12
DEADLINE = 600.0


async def main(data_dir: Path, user: str, role: str, url: str, target: int, seed: int) -> int:
    engine = await Engine.open(
        EngineConfig(
            data_dir=data_dir,
            user=user,
            role=Role(role),
            server_url=url,
            token=os.environ["FRONTDESK_TOKEN"],
            backoff_base=0.05,
            backoff_cap=0.5,
        )
    )
    log = (data_dir / "events.jsonl").open("a", encoding="utf-8")

    def record(event: EngineEvent) -> None:
        if isinstance(event, MutationRejected | ConflictParked):
            log.write(json.dumps({"kind": type(event).__name__}) + "\n")
            log.flush()

    engine.subscribe(record)
    await engine.start()
    desk = Desk(user, engine, random.Random(f"{seed}:{engine.status.pending}"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    code = 0
    known = [r.id for r in engine.requests()]
    while _used(engine) < target:
        if loop.time() > deadline:
            code = 2
            break
        if not known:
            known = [r.id for r in engine.requests()]
        await desk.act(known)
        await asyncio.sleep(PACE)  # pacing, so the edits overlap the faults
        if len(known) > 200:
            del known[:100]
    while code == 0 and (engine.status.pending or engine.status.connection != "online"):
        if loop.time() > deadline:
            code = 3
        await asyncio.sleep(0.05)  # a separate process: polling its own state is all it has
    result = {"client_id": engine.client_id, "used": _used(engine), "close_error": None}
    try:
        await engine.close()
    except BaseException as exc:
        # A close that fails (as it did before commit ebba4e7, see
        # test_reliability_engine_close.py) leaves the replica thread running, which would keep
        # the process alive: record it, and exit hard below.
        result["close_error"] = type(exc).__name__
    log.close()
    print(json.dumps(result), flush=True)
    os._exit(code)


def _used(engine: Engine) -> int:
    """Mutation numbers this replica has used so far (durable: they live in the replica)."""
    return engine.used_numbers


if __name__ == "__main__":
    data, user, role, url, target, seed = sys.argv[1:7]
    sys.exit(asyncio.run(main(Path(data), user, role, url, int(target), int(seed))))
