"""`make bench`: run every benchmark in a fresh interpreter and print one JSON summary.

Also times `mlops demo` end to end (after set-up), the figure the README quotes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def run_json(script: str) -> Any:
    out = subprocess.run(
        [sys.executable, str(BENCH / script)], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout[out.stdout.index("{") :])


def demo_seconds() -> float:
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "mlops"), "--home", f"{home}/h", "demo"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        return round(time.perf_counter() - started, 1)


def main() -> None:
    results = {
        "cold_start": run_json("bench_cold_start.py"),
        "events": run_json("bench_events.py"),
        "training": run_json("bench_training.py"),
        "host": run_json("bench_host.py"),
        "audit": run_json("bench_audit.py"),
        "demo_seconds": demo_seconds(),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
