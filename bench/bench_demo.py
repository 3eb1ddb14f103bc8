"""`mlops demo` end to end after set-up, in a fresh MLOPS_HOME (one run: it takes a minute)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.table import at_most, row  # noqa: E402


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "mlops"), "--home", f"{home}/h", "demo"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        seconds = round(time.perf_counter() - started, 1)
    detail = "every scene, incl. the rollback and the forged image push; one run"
    return {
        "rows": [
            row("`mlops demo` after set-up", seconds, "s", "< 90 s", at_most(seconds, 90), detail)
        ],
        "demo_seconds": seconds,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
