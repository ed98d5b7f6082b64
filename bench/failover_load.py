"""Terminals that live through an instance dying, timed: the load side of the failover figure.

    python -m bench.failover_load --url WS --token T --writers 8 --listeners 40 --seconds 6

Every client connects through the load balancer (``--url``) with the resuming and resending
clients of the failover test (``tests/failover_kit.py``: on a dead link they reconnect through
the balancer, say ``hello`` with their ``last_seq``, and writers resend every unanswered
mutation with its original ``n``, as the offline engine does). Writers send paced creates for
``--seconds``; listeners only read.

Prints ``ready`` once every client is synced and writing. The bench then SIGKILLs an instance
and writes ``killed <time.monotonic() just before the kill>`` on stdin (``CLOCK_MONOTONIC`` is one
clock for every process of the machine). When every create is answered and every client has
every change, one JSON line says, for each client whose link was cut, when it was synced again
on another instance and (writers) when the last mutation it had unanswered at the cut was
answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bench.harness import REPO, raise_nofile

sys.path.insert(0, str(REPO / "tests"))
from failover_kit import ResendingWriter, Resumer  # tests/ is on the path: see above

SETTLE_LIMIT = 60.0
"""Seconds after the kill within which every create must be answered and seen by everyone."""


class TimedListener(Resumer):
    """A ``Resumer`` that notes the monotonic time of each ``synced`` (first one included) and
    of each cut it noticed."""

    def __init__(self, ws_url: str, token: str) -> None:
        super().__init__(ws_url, token)
        self.synced_at: list[float] = []
        self.noticed_at: list[float] = []

    async def open(self) -> None:
        await super().open()
        self.synced_at.append(time.monotonic())

    async def reconnected(self) -> None:
        self.noticed_at.append(time.monotonic())
        await super().reconnected()


class TimedWriter(ResendingWriter):
    """A ``ResendingWriter`` that also notes when what it had unanswered at a cut is answered."""

    def __init__(self, ws_url: str, token: str, count: int) -> None:
        super().__init__(ws_url, token, count)
        self.synced_at: list[float] = []
        self.noticed_at: list[float] = []
        self.resent_answered_at: list[float] = []
        self.resent: list[int] = []
        """How many mutations were unanswered at each cut (and so sent again)."""
        self._waiting: set[int] = set()
        answer = self.on_frame

        def on_frame(frame: dict[str, Any]) -> None:
            if answer is not None:
                answer(frame)
            if self._waiting and frame["type"] in ("ack", "reject"):
                self._waiting.discard(frame["n"])
                if not self._waiting:
                    self.resent_answered_at.append(time.monotonic())

        self.on_frame = on_frame

    async def open(self) -> None:
        await super().open()
        self.synced_at.append(time.monotonic())

    async def reconnected(self) -> None:
        self.noticed_at.append(time.monotonic())
        self._waiting = {n for n in self.sent if n not in self.answers}
        self.resent.append(len(self._waiting))
        if not self._waiting:
            self.resent_answered_at.append(time.monotonic())
        await super().reconnected()


async def wait_until(check: Any, timeout: float, what: str) -> None:
    """Poll ``check()`` every 10 ms until true (the clients raise no event for these)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)


async def run(
    url: str, token: str, writers: int, listeners: int, seconds: float, pace: float
) -> dict[str, Any]:
    per_writer = max(1, int(seconds / pace))
    writing = [TimedWriter(url, token, per_writer) for _ in range(writers)]
    watching = [TimedListener(url, token) for _ in range(listeners)]
    everyone: list[TimedWriter | TimedListener] = [*writing, *watching]
    for start in range(0, len(everyone), 20):
        await asyncio.gather(*(c.open() for c in everyone[start : start + 20]))
    stop = asyncio.Event()
    readers = [asyncio.create_task(c.run(stop)) for c in everyone]
    senders = [asyncio.create_task(w.write(stop, pace)) for w in writing]

    def healthy() -> None:
        for task in (*readers, *senders):  # a client that gave up fails the run at once
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # not None: checked above

    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    killed_at = float(line.split()[1])
    total = writers * per_writer

    def all_answered() -> bool:
        healthy()
        return sum(len(w.answers) for w in writing) == total

    await wait_until(all_answered, SETTLE_LIMIT + seconds, "creates left unanswered")
    last = max(f["seq"] for w in writing for f in w.answers.values() if f["type"] == "ack")
    await wait_until(
        lambda: all(c.last_seq >= last for c in everyone), SETTLE_LIMIT, "changes missing"
    )
    stop.set()
    await asyncio.wait_for(asyncio.gather(*readers, *senders), 30)

    def after_kill(times: list[float]) -> float | None:
        later = [t - killed_at for t in times if t > killed_at]
        return later[0] if later else None

    cut = [c for c in everyone if c.reconnects]
    synced = [after_kill(c.synced_at) for c in cut]
    answered = [after_kill(w.resent_answered_at) for w in writing if w.reconnects]
    return {
        "clients": len(everyone),
        "cut": len(cut),
        "cut_writers": sum(1 for w in writing if w.reconnects),
        "reconnects": sum(c.reconnects for c in everyone),
        "noticed_s": [after_kill(c.noticed_at) for c in cut],
        "synced_s": synced,
        "resent_answered_s": answered,
        "resent": sum(sum(w.resent) for w in writing),
        "acked": sum(1 for w in writing for f in w.answers.values() if f["type"] == "ack"),
        "rejected": sum(1 for w in writing for f in w.answers.values() if f["type"] != "ack"),
        "errors": sum(len(w.errors) for w in writing),
        "head": last,
        "instances_seen": sorted({i for c in everyone for i in c.instances}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the load balancer's ws:// URL")
    parser.add_argument("--token", required=True)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--listeners", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=6.0, help="how long writers write")
    parser.add_argument("--pace", type=float, default=0.005, help="seconds between one's creates")
    ns = parser.parse_args()
    raise_nofile()
    result = asyncio.run(run(ns.url, ns.token, ns.writers, ns.listeners, ns.seconds, ns.pace))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
