"""A cold start of the function host imports none of the heavy SDKs."""

from __future__ import annotations

import json
import subprocess
import sys

from shared.adapters.project_files import REPO_ROOT

HEAVY = ("azure.ai.ml", "mlflow", "sklearn", "pandas", "numpy", "pydantic")


def test_importing_function_app_loads_no_heavy_module() -> None:
    probe = (
        "import json, sys, function_app; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
