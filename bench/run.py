"""`make bench`: run every `bench/bench_*.py` in a fresh interpreter, print one table (figure |
value | goal | met), write `bench/results.json` and rewrite README.md's bench block from it.

    python bench/run.py                        # every benchmark, a fresh results.json
    python bench/run.py bench_audit.py ...     # only these; their rows replace the old ones

Each benchmark prints one JSON document whose "rows" are `bench.table.Row`s; the rest of the
document is kept under "raw" in results.json. A benchmark that fails becomes a row saying so,
and the others still run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench import table  # noqa: E402

# The order first; a benchmark not named here runs after these, by name.
ORDER = (
    "bench_scoring.py",
    "bench_upload_serving.py",
    "bench_azure_calls.py",
    "bench_reconciler.py",
    "bench_audit.py",
    "bench_host.py",
    "bench_cold_start.py",
    "bench_events.py",
    "bench_training.py",
    "bench_demo.py",
)


def scripts() -> list[str]:
    present = sorted(p.name for p in BENCH.glob("bench_*.py"))
    return [s for s in ORDER if s in present] + [s for s in present if s not in ORDER]


def run_json(script: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(BENCH / script)], cwd=REPO, capture_output=True, text=True
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [f"exit status {out.returncode}"]
        sys.stderr.write(out.stderr[-4000:])
        row = table.row(script, None, goal="runs", met=False, detail=f"failed: {tail[0]}")
        return {"rows": [row]}
    document: dict[str, Any] = json.loads(out.stdout[out.stdout.index("{") :])
    return document


def main(only: list[str]) -> None:
    previous = table.load() if only and table.RESULTS.exists() else {"rows": [], "raw": {}}
    rows, raw = previous["rows"], previous["raw"]
    for script in only or scripts():
        started = time.perf_counter()
        document = run_json(script)
        print(f"{script}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        rows = table.merged(rows, script, document.pop("rows", []))
        raw[script] = document
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
        "rows": rows,
        "raw": raw,
    }
    table.RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table.README.write_text(table.rewrite(table.README.read_text(), results))
    print(table.text_table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
