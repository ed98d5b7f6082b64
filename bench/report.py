"""``python -m bench.report [results.json]``: the Markdown block docs/PERFORMANCE.md pastes.

Machine, date, commit, load average, the table and its notes, from a results file written by
``python -m bench`` (default ``bench/results/latest.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.harness import RESULTS_DIR, Result, notes, table


def render(path: Path) -> str:
    data = json.loads(path.read_text())
    meta = data["meta"]
    fields = Result.__dataclass_fields__
    results = [Result(**{k: v for k, v in r.items() if k in fields}) for r in data["results"]]
    lines = [
        f"- Date: {meta['date']}; commit `{meta['commit']}`"
        + (" (quick run)" if meta.get("quick") else ""),
        f"- Machine: {meta['nproc']} cores ({meta['cpu']}), {meta['ram']} RAM, "
        f"Python {meta['python']}",
        f"- Load average at start / end: {meta.get('loadavg_start', '?')} / "
        f"{meta.get('loadavg_end', '?')}; whole run {meta.get('seconds', '?')} s",
        "",
        table(results),
        "",
        notes(results),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS_DIR / "latest.json"
    print(render(source))
