"""A developer's shell cannot change a result: tests/conftest.py clears the app's settings
(MLOPS_*) and the variables that say "in Azure" before any test or fixture runs, and keeps
the harness's own variables (where `make test` says the tools are)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from shared.adapters.project_files import REPO_ROOT
from tests.conftest import HARNESS_VARIABLES, app_variables

SHELL = {
    "MLOPS_BACKEND": "azure",
    "MLOPS_HOME": "/nonexistent/mlops-home",
    "MLOPS_COALESCE_QUIET_SECONDS": "0",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-0",
    "WEBSITE_AUTH_ENABLED": "False",
    "WEBSITE_INSTANCE_ID": "instance-0",
    "MLOPS_SCHEMATHESIS_SEED": "99",  # the harness's: kept
}


def test_what_a_test_sees() -> None:
    """Run in the suite and, below, under a shell full of settings."""
    assert app_variables(os.environ) == []
    print("harness:", sorted(name for name in os.environ if name.startswith("MLOPS_")))


def test_settings_in_the_shell_do_not_reach_a_test() -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"),
            f"{__file__}::test_what_a_test_sees",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **SHELL},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    harness = sorted(
        {name for name in os.environ if name in HARNESS_VARIABLES} | {"MLOPS_SCHEMATHESIS_SEED"}
    )
    assert f"harness: {harness}" in run.stdout


def test_every_variable_make_test_passes_is_kept() -> None:
    """The Makefile's test recipe names the tools' variables; clearing one would skip (or,
    with MLOPS_REQUIRE_TOOLS=1, fail) the tests that need the tool."""
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    passed = set(re.findall(r"\b(MLOPS_[A-Z_]+)=", recipe.group(1)))
    assert "MLOPS_REQUIRE_TOOLS" in passed
    assert passed <= HARNESS_VARIABLES
    assert app_variables(dict.fromkeys(passed, "x")) == []
