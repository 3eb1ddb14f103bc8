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
{preload}
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def measure(module: str, preload: str = "") -> dict[str, Any]:
    samples, heavy = [], []
    probe = _PROBE.format(
        module=module, heavy=HEAVY, preload=f"import {preload}" if preload else ""
    )
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", probe],
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
    # As the worker loads it: azure-functions-runtime's worker_init_request imports
    # azure.functions (bindings/meta.py, load_binding_registry) before it indexes the app.
    on_worker = measure("function_app", preload="azure.functions")
    sdk_alone = sdk["median_seconds"]
    ratio = round(app["median_seconds"] / sdk_alone, 3)
    worker_ratio = round(on_worker["median_seconds"] / sdk_alone, 3)
    heavy = ", ".join(app["heavy_modules_loaded"]) or "none"
    functions_share = app["median_seconds"] - on_worker["median_seconds"]
    figure = "`import function_app` vs `import azure.ai.ml`"
    return {
        "rows": [
            row(
                f"{figure}, fresh interpreter",
                ratio,
                "×",
                "≤ 0.10",
                at_most(ratio, 0.10),
                f"{app['median_seconds']} s vs {sdk_alone} s, medians of {RUNS} fresh"
                f" interpreters each; heavy SDKs loaded by the app: {heavy}; about"
                f" {functions_share:.3f} s of it is azure.functions itself (werkzeug"
                " included), which the worker has loaded before it imports the app",
            ),
            row(
                f"{figure}, as the worker loads it (azure.functions already imported)",
                worker_ratio,
                "×",
                "≤ 0.10",
                at_most(worker_ratio, 0.10),
                f"{on_worker['median_seconds']} s: the app's own modules (functions/, shared/"
                " runtime) and what they import beyond azure.functions",
            ),
        ],
        "function_app": app,
        "function_app_after_azure_functions": on_worker,
        "azure.ai.ml": sdk,
        "ratio": ratio,
        "worker_ratio": worker_ratio,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
