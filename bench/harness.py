"""What every scenario shares: results with targets, the table, processes, RSS, percentiles.

A figure is only worth printing beside the best the raw libraries do on the same machine in the
same run, so a ``Result`` carries its baseline and judges itself against its target (an absolute
bound, a ratio to the baseline, or both).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    """One measured figure, its baseline from the same run, and its target.

    ``higher_is_better`` decides the direction of both bounds: with it, the figure must be at
    least ``target_abs`` and at least ``target_ratio`` times the baseline; without it, at most.
    """

    scenario: str
    figure: str
    value: float | None
    unit: str
    baseline: float | None = None
    higher_is_better: bool = False
    target_abs: float | None = None
    target_ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        """True/False against the target; None when there is no target or no figure."""
        if self.target_abs is None and self.target_ratio is None:
            return None
        if self.value is None:
            return False
        ok = True
        if self.target_abs is not None:
            ok &= (
                self.value >= self.target_abs
                if self.higher_is_better
                else self.value <= self.target_abs
            )
        if self.target_ratio is not None:
            ratio = self.ratio
            if ratio is None:
                return False
            if self.higher_is_better:
                ok &= ratio >= self.target_ratio
            else:
                ok &= ratio <= self.target_ratio
        return ok

    @property
    def target(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        parts = []
        if self.target_ratio is not None:
            parts.append(f"{sign} {self.target_ratio:g}x base")
        if self.target_abs is not None:
            parts.append(f"{sign} {fmt(self.target_abs)} {self.unit}".rstrip())
        return ", ".join(parts) or "—"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, passed=self.passed, target=self.target)
        return data


def fmt(value: float | None) -> str:
    """A figure for a table: thousands separators, three significant digits for small ones."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: Sequence[Result]) -> str:
    """The one table ``make bench`` prints (also pasted into docs/PERFORMANCE.md)."""
    header = ("scenario", "figure", "value", "baseline", "ratio", "target", "result")
    rows = []
    for r in results:
        verdict = {True: "pass", False: "MISS", None: "—"}[r.passed]
        if r.value is None:
            verdict = "MISS" if r.passed is False else "n/a"
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "—"
        value = (
            f"{fmt(r.value)} {r.unit}" if r.value is not None else f"— ({(r.note or 'n/a')[:44]})"
        )
        base = f"{fmt(r.baseline)} {r.unit}" if r.baseline is not None else "—"
        rows.append((r.scenario, r.figure, value, base, ratio, r.target, verdict))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = " | ".join(f"{{:<{w}}}" for w in widths)
    out = ["| " + line.format(*header) + " |", "|-" + "-|-".join("-" * w for w in widths) + "-|"]
    out += ["| " + line.format(*row) + " |" for row in rows]
    return "\n".join(out)


def notes(results: Sequence[Result]) -> str:
    """The notes of the table's rows, one line each (baseline sizes, causes of misses)."""
    return "\n".join(f"- {r.scenario} / {r.figure}: {r.note}" for r in results if r.note)


def write_results(results: Sequence[Result], meta: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "results": [r.to_json() for r in results]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


_T0 = time.monotonic()


def log(message: str) -> None:
    """A progress line (with seconds since the bench started) so a slow step shows itself."""
    print(f"   [{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


PROFILE_ENV = "FRONTDESK_BENCH_PROFILE"
"""Set by ``python -m bench --profile``: a directory where each child writes a cProfile summary."""


def profiled(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn``; under ``--profile``, inside cProfile, writing the hottest functions to
    ``$FRONTDESK_BENCH_PROFILE/<name>.txt`` (own time first, then cumulative)."""
    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        return fn()
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return fn()
    finally:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        path = Path(folder) / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out.getvalue())


# Processes -------------------------------------------------------------------------------------


def raise_nofile() -> int:
    """Raise this process's open-files soft limit to the hard limit (many sockets ahead)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: no proxies (loopback only), repo on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy"}
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Child:
    """A child process whose stdout we read line by line with timeouts."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str] | None = None, stdin=None):
        self.args = list(args)
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            env=env or bench_env(),
            cwd=REPO,
            text=True,
            bufsize=1,
            preexec_fn=raise_nofile,  # the child opens many sockets too
        )
        self.pid = self.proc.pid
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)

    def readline(self, timeout: float) -> str:
        """The next stdout line; TimeoutError if none within ``timeout`` or the child ended."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no output from {self.args[:4]} in {timeout:.0f}s")
            if self._sel.select(left):
                line = self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{self.args[:4]} exited: {self.stderr_tail()}")
                return line.rstrip("\n")

    def wait_line(self, prefix: str, timeout: float) -> str:
        """Skip lines until one starts with ``prefix``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stderr_tail(self) -> str:
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return "(still running)"
        return (self.proc.stderr.read() or "")[-2000:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``: only this child, by its pid."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if stream:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def child(args: Sequence[str], **kwargs: Any) -> Iterator[Child]:
    proc = Child(args, **kwargs)
    try:
        yield proc
    finally:
        proc.stop()


def run_json(args: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run a load generator to completion; its last stdout line is its JSON result."""
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or bench_env(),
        cwd=REPO,
        preexec_fn=raise_nofile,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its children that have ended (``cutime``/``cstime``) and those
    still running: a PostgreSQL postmaster and its backends, say, all counted once."""
    clock = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15]) / clock
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile: its time is in the parent's cutime now
            continue
        if int(child[1]) == pid:
            total += (int(child[11]) + int(child[12])) / clock
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy so far (everything but idle and iowait), /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 100 samples is the 99th smallest)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]
