"""Cold start: `import function_app` in a fresh interpreter, against `import azure.ai.ml`.

Each figure is the median of several fresh interpreters; the app must load none of the
heavy SDKs at import time."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = 5
HEAVY = ("azure.ai.ml", "mlflow", "sklearn", "pandas")

_PROBE = """
import json, sys, time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def measure(module: str) -> dict[str, Any]:
    samples, heavy = [], []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        samples.append(result["seconds"])
        heavy = result["heavy"]
    return {"median_seconds": round(statistics.median(samples), 3), "heavy_modules_loaded": heavy}


def main() -> dict[str, Any]:
    app, sdk = measure("function_app"), measure("azure.ai.ml")
    return {
        "function_app": app,
        "azure.ai.ml": sdk,
        "ratio": round(app["median_seconds"] / sdk["median_seconds"], 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
