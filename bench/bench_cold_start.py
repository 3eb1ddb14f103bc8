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
sys.path.insert(0, str(REPO))

from bench.table import at_most, row  # noqa: E402

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
    ratio = round(app["median_seconds"] / sdk["median_seconds"], 3)
    heavy = ", ".join(app["heavy_modules_loaded"]) or "none"
    detail = (
        f"{app['median_seconds']} s vs {sdk['median_seconds']} s, medians of {RUNS} fresh"
        f" interpreters each; heavy SDKs loaded by the app: {heavy}"
    )
    figure = "`import function_app` vs `import azure.ai.ml`"
    return {
        "rows": [row(figure, ratio, "×", "≤ 0.10", at_most(ratio, 0.10), detail)],
        "function_app": app,
        "azure.ai.ml": sdk,
        "ratio": ratio,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
